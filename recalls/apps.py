from core import appconfig


class RecallsConfig(appconfig.PlatformAppConfig):
    name = "recalls"
    scope = "shared"
    verbose_name = "Food-safety recalls"
