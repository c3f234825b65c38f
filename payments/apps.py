from core import appconfig


class PaymentsConfig(appconfig.PlatformAppConfig):
    name = "payments"
    scope = "shared"
    verbose_name = "Payments and clearing"

    def ready(self) -> None:
        from orders.interfaces import register_refund_handler
        from payments.services import refund_execute

        register_refund_handler(refund_execute)
