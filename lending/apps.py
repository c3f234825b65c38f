from core import appconfig


class LendingConfig(appconfig.PlatformAppConfig):
    name = "lending"
    scope = "tenant"
    verbose_name = "Lending"
