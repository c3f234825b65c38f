from django.utils.translation import gettext_lazy as _

from core import appconfig


class PaymentsConfig(appconfig.PlatformAppConfig):
    name = "payments"
    scope = "shared"
    verbose_name = "Payments and clearing"

    def ready(self) -> None:
        from orders.interfaces import register_refund_handler
        from payments.services import refund_execute

        register_refund_handler(refund_execute)

        from banks.audit import register_actions, register_audit_source
        from payments.selectors import audit_entries as payments_audit

        register_audit_source(("settlement",), payments_audit)
        register_actions(bank={"gateway_refund_resolved": ("settlement",
                                                           _("Gateway refund resolved"))})
