from core import appconfig


class BanksConfig(appconfig.PlatformAppConfig):
    name = "banks"
    scope = "shared"
    verbose_name = "Member banks"

    def ready(self) -> None:
        from accounts.profile import register_profile_section
        from banks.selectors import profile_roles

        register_profile_section(profile_roles)
