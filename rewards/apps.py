from core import appconfig


class RewardsConfig(appconfig.PlatformAppConfig):
    name = "rewards"
    scope = "tenant"
    verbose_name = "Rewards"

    def ready(self) -> None:
        from banks.signals import bank_schema_ready
        from rewards.services import programme_seed_for_bank

        bank_schema_ready.connect(programme_seed_for_bank, dispatch_uid="rewards-seed")
