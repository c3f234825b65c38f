from core import appconfig


class OrdersConfig(appconfig.PlatformAppConfig):
    name = "orders"
    scope = "shared"
    verbose_name = "Orders"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from catalog.interfaces import register_product_page_extra
        from orders.signals import adopt_session_on_login
        from orders.views import product_buying_context

        user_logged_in.connect(adopt_session_on_login, dispatch_uid="orders.adopt_session")
        register_product_page_extra(product_buying_context)
