from core import appconfig


class OrdersConfig(appconfig.PlatformAppConfig):
    name = "orders"
    scope = "shared"
    verbose_name = "Orders"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_save

        from catalog.interfaces import register_product_page_extra
        from orders.signals import adopt_session_on_login
        from orders.views import product_buying_context

        user_logged_in.connect(adopt_session_on_login, dispatch_uid="orders.adopt_session")
        from orders.assisted import text_pickup_code
        from orders.models import OrderEvent

        post_save.connect(text_pickup_code, sender=OrderEvent,
                          dispatch_uid="orders.assisted_pickup_code")
        register_product_page_extra(product_buying_context)
        from django.db.models.signals import post_delete

        from catalog.page_cache import catalog_changed
        from orders.models import FlashSale

        # a flash sale set up or removed is on the product pages kept whole at once
        # (its units sold change by conditional UPDATEs, without this signal)
        post_save.connect(catalog_changed, sender=FlashSale, dispatch_uid="orders.flash_pages")
        post_delete.connect(catalog_changed, sender=FlashSale,
                            dispatch_uid="orders.flash_pages_delete")
        from orders.flash import sale_saved

        post_save.connect(sale_saved, sender=FlashSale, dispatch_uid="orders.flash_copy")

        from banks.audit import register_audit_source
        from orders.selectors_history import audit_entries as orders_audit

        register_audit_source(("orders",), orders_audit)
        from orders.views_reviews import product_reviews_context

        register_product_page_extra(product_reviews_context)
