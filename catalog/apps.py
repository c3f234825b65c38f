from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _

from catalog.page_cache import catalog_changed
from core import appconfig

# The bank's trail names the merchants' and products' steps taken outside admission
# (admission writes its own on the merchant's dossier).
AUDIT_ACTIONS = {
    "merchant_start_review": _("Merchant taken into review"),
    "merchant_approve": _("Merchant approved"),
    "merchant_reject": _("Merchant rejected"),
    "merchant_suspend": _("Merchant suspended"),
    "merchant_reinstate": _("Merchant reinstated"),
    "merchant_reapply": _("Merchant applied again"),
    "product_submit": _("Product submitted for listing"),
    "product_approve_listing": _("Listing approved"),
    "product_reject_listing": _("Listing rejected"),
    "product_delist": _("Product delisted"),
}


class CatalogConfig(appconfig.PlatformAppConfig):
    name = "catalog"
    scope = "shared"
    verbose_name = "Shared catalog"

    def ready(self):
        # models are importable once the app registry is ready
        from banks.audit import register_actions
        from banks.models import Bank, Branch, Domain
        from catalog.models import Batch, Category, Merchant, Product, Sku

        # what the storefront's cached product grids show (catalog.page_cache)
        for model in (Product, Sku, Merchant, Category, Batch, Bank, Branch, Domain):
            post_save.connect(catalog_changed, sender=model,
                              dispatch_uid=f"catalog_pages_{model.__name__}_save")
            post_delete.connect(catalog_changed, sender=model,
                                dispatch_uid=f"catalog_pages_{model.__name__}_delete")
        register_actions(bank={action: ("admission", label)
                               for action, label in AUDIT_ACTIONS.items()})
