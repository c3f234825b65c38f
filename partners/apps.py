from core import appconfig


class PartnersConfig(appconfig.PlatformAppConfig):
    name = "partners"
    scope = "shared"
    verbose_name = "Partner platforms"

    def ready(self):
        from django.db.models.signals import post_save

        from orders.models import OrderEvent
        from partners import ordering, webhooks
        from payments.interfaces import register_partner_fee_rates

        # Settlement books the fee of the partner that sold an order.
        register_partner_fee_rates(ordering.fee_rates)
        # What happens to a partner's order is sent to its webhooks (after the commit).
        post_save.connect(webhooks.order_event_saved, sender=OrderEvent,
                          dispatch_uid="partners.order_event_saved")
