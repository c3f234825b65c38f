from django.utils.translation import gettext_lazy as _

from core import appconfig


class PaymentsConfig(appconfig.PlatformAppConfig):
    name = "payments"
    scope = "shared"
    verbose_name = "Payments and clearing"

    def ready(self) -> None:
        # Late: these modules import models, importable once the app registry is ready.
        from banks.audit import register_actions, register_audit_source
        from orders.interfaces import register_refund_handler
        from payments.selectors import audit_entries as payments_audit
        from payments.services import refund_execute

        register_refund_handler(refund_execute)
        register_audit_source(("settlement",), payments_audit)
        register_actions(bank={"gateway_refund_resolved": ("settlement",
                                                           _("Gateway refund resolved"))})
