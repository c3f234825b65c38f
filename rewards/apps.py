from core import appconfig


class RewardsConfig(appconfig.PlatformAppConfig):
    name = "rewards"
    scope = "tenant"
    verbose_name = "Rewards"

    def ready(self) -> None:
        from banks.signals import bank_schema_ready
        from orders.hooks import order_completed
        from rewards.receivers import earn_on_completion
        from rewards.services import programme_seed_for_bank

        bank_schema_ready.connect(programme_seed_for_bank, dispatch_uid="rewards-seed")
        order_completed.connect(earn_on_completion, dispatch_uid="rewards-earn")
