from core import appconfig


class OrdersConfig(appconfig.PlatformAppConfig):
    name = "orders"
    scope = "shared"
    verbose_name = "Orders"
