from core import appconfig


class PaymentsConfig(appconfig.PlatformAppConfig):
    name = "payments"
    scope = "shared"
    verbose_name = "Payments and clearing"
