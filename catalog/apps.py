from core import appconfig


class CatalogConfig(appconfig.PlatformAppConfig):
    name = "catalog"
    scope = "shared"
    verbose_name = "Shared catalog"
