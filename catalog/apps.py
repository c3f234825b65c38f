from django.db.models.signals import post_delete, post_save

from catalog.page_cache import catalog_changed
from core import appconfig


class CatalogConfig(appconfig.PlatformAppConfig):
    name = "catalog"
    scope = "shared"
    verbose_name = "Shared catalog"

    def ready(self):
        # models are importable once the app registry is ready
        from banks.models import Bank, Branch, Domain
        from catalog.models import Batch, Category, Merchant, Product, Sku

        # what the storefront's cached product grids show (catalog.page_cache)
        for model in (Product, Sku, Merchant, Category, Batch, Bank, Branch, Domain):
            post_save.connect(catalog_changed, sender=model,
                              dispatch_uid=f"catalog_pages_{model.__name__}_save")
            post_delete.connect(catalog_changed, sender=model,
                                dispatch_uid=f"catalog_pages_{model.__name__}_delete")
