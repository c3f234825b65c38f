from core import appconfig


class RewardsConfig(appconfig.PlatformAppConfig):
    name = "rewards"
    scope = "tenant"
    verbose_name = "Rewards"

    def ready(self) -> None:
        from banks.signals import bank_schema_ready
        from orders.hooks import order_completed
        from orders.interfaces import register_cancel_handler
        from payments.interfaces import register_points_restorer
        from rewards.receivers import earn_on_completion
        from rewards.services import (
            points_back_on_cancel,
            points_back_on_refund,
            programme_seed_for_bank,
        )

        bank_schema_ready.connect(programme_seed_for_bank, dispatch_uid="rewards-seed")
        order_completed.connect(earn_on_completion, dispatch_uid="rewards-earn")
        register_cancel_handler(points_back_on_cancel)
        register_points_restorer(points_back_on_refund)
        # The card page offers paying part with the storefront bank's points.
        from payments.interfaces import register_payment_options
        from rewards.views import checkout_payment_options

        register_payment_options(checkout_payment_options)
        from orders.interfaces import register_share_points_provider
        from rewards.sharing import share_points

        register_share_points_provider(share_points)
