from core import appconfig


class FederationConfig(appconfig.PlatformAppConfig):
    name = "federation"
    scope = "shared"
    verbose_name = "Federation"
