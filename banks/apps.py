from core import appconfig


class BanksConfig(appconfig.PlatformAppConfig):
    name = "banks"
    scope = "shared"
    verbose_name = "Member banks"

    def ready(self) -> None:
        from accounts.profile import register_profile_section
        from banks.selectors import profile_roles

        register_profile_section(profile_roles)

        from django.db.models.signals import post_delete, post_save

        from banks.middleware import clear_host_cache
        from banks.models import Bank, Domain

        for model in (Bank, Domain):
            post_save.connect(clear_host_cache, sender=model, dispatch_uid=f"host-{model}")
            post_delete.connect(clear_host_cache, sender=model, dispatch_uid=f"host-d-{model}")
