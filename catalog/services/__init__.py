"""Writes on the shared catalog: merchants' shop profiles and their state machine,
products and theirs, SKUs, wholesale tiers, stock, batches, and the search index.

The state machines are declared on the models (``Merchant.STATES``, ``Product.STATES``)
and applied here only (``merchant_transition``, ``product_transition``); nothing else
assigns a status. An illegal transition raises ``ApplicationError`` (a clear 400), never a
silent no-op.

One module per use case: ``merchants``, ``products``, ``stock`` (shelf counts,
reservations, sales counts), ``batches``, ``search_index`` and ``synonyms``. Callers
import from this package.
"""

from catalog.services.batches import INPUT_KIND_NAMES, INPUT_KINDS, batch_create, batch_set_report
from catalog.services.changes import products_touch
from catalog.services.favourites import FAVOURITES_LIMIT, favourite_set
from catalog.services.lab_reports import batches_set_recalled, lab_report_add
from catalog.services.merchants import (
    MERCHANT_TRANSITIONS,
    REASON_REQUIRED,
    merchant_allowed_actions,
    merchant_register,
    merchant_set_featured,
    merchant_transition,
    merchant_update_profile,
)
from catalog.services.products import (
    PRODUCT_TRANSITIONS,
    SkuSpec,
    product_create,
    product_set_featured,
    product_set_image,
    product_transition,
    product_update,
    sku_add,
)
from catalog.services.ratings import rating_average, rating_refresh
from catalog.services.search_index import product_reindex
from catalog.services.stock import (
    register_stock_issue_hook,
    sales_record,
    stock_adjust,
    stock_from_warehouse,
    stock_hold,
    stock_hold_many,
    stock_issue,
    stock_set,
    stock_unhold,
)
from catalog.services.synonyms import synonym_group_create, synonym_group_delete, synonyms_changed

__all__ = [
    "FAVOURITES_LIMIT", "favourite_set",
    "INPUT_KINDS",
    "INPUT_KIND_NAMES",
    "MERCHANT_TRANSITIONS",
    "PRODUCT_TRANSITIONS",
    "REASON_REQUIRED",
    "SkuSpec",
    "batch_create",
    "batches_set_recalled",
    "lab_report_add",
    "batch_set_report",
    "merchant_allowed_actions",
    "products_touch",
    "merchant_register",
    "merchant_set_featured",
    "merchant_transition",
    "merchant_update_profile",
    "product_create",
    "product_reindex",
    "rating_average",
    "rating_refresh",
    "product_set_featured",
    "product_set_image",
    "product_transition",
    "product_update",
    "sales_record",
    "sku_add",
    "register_stock_issue_hook",
    "stock_adjust",
    "stock_from_warehouse",
    "stock_hold",
    "stock_hold_many",
    "stock_issue",
    "stock_set",
    "stock_unhold",
    "synonym_group_create",
    "synonym_group_delete",
    "synonyms_changed",
]
