from core import appconfig


class PartnersConfig(appconfig.PlatformAppConfig):
    name = "partners"
    scope = "shared"
    verbose_name = "Partner platforms"

    def ready(self) -> None:
        # Late: models are not importable before the registry is ready.
        from django.db.models.signals import post_save

        from banks.audit import register_actions
        from orders.interfaces import register_channel_sales
        from orders.models import OrderEvent
        from partners import ordering, webhooks
        from partners.selectors import ACTION_LABELS, BANK_SIDE
        from partners.selectors_orders import partner_channel_sales
        from payments.interfaces import register_partner_fee_rates

        # The partners' audit actions, named in words on the federation's and banks' pages.
        register_actions(
            federation={a: label for a, label in ACTION_LABELS.items() if a not in BANK_SIDE},
            bank={a: ("bank", ACTION_LABELS[a]) for a in BANK_SIDE})
        # Settlement books the fee of the partner that sold an order.
        register_partner_fee_rates(ordering.fee_rates)
        # What happens to a partner's order is sent to its webhooks (after the commit).
        post_save.connect(webhooks.order_event_saved, sender=OrderEvent,
                          dispatch_uid="partners.order_event_saved")
        # The federation's dashboards show what partners sold beside the banks.
        register_channel_sales(partner_channel_sales)
