from core import appconfig


class AccountsConfig(appconfig.PlatformAppConfig):
    name = "accounts"
    scope = "shared"
    verbose_name = "Accounts"
