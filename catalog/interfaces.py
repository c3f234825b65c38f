"""What the catalog's pages take from outer apps, registered when those apps start.

``catalog`` knows nothing of orders: the buying box on the product page (specification
picker, flash-sale price, wholesale tiers for business buyers, share link) is context and
a template that ``orders`` registers here in its AppConfig.ready.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from catalog.models import Product, Sku

# extra(request, product, skus) -> context for the product page; its "product_extras"
# entry lists templates the page includes in the buying column, its "product_sections"
# entry templates included below the description (buyers' reviews).
ProductPageExtra = Callable[[HttpRequest, Product, list[Sku]], dict]

_product_page_extras: list[ProductPageExtra] = []


def register_product_page_extra(extra: ProductPageExtra) -> None:
    if extra not in _product_page_extras:
        _product_page_extras.append(extra)


def product_page_extras(request, product, skus) -> dict:
    context: dict = {"product_extras": [], "product_sections": []}
    for extra in _product_page_extras:
        more = extra(request, product, skus)
        context["product_extras"] += more.pop("product_extras", [])
        context["product_sections"] += more.pop("product_sections", [])
        context.update(more)
    return context
