from core import appconfig


class PartnersConfig(appconfig.PlatformAppConfig):
    name = "partners"
    scope = "shared"
    verbose_name = "Partner platforms"
