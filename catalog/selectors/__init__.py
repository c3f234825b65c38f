"""Reads on the catalog. Shoppers see only listed products of approved merchants of active
banks; a storefront shows its own bank's merchants and curated picks first.

One module per use case: ``storefront`` (what is visible, the home page, product and shop
pages, traceability), ``listing`` (filters, sorting, pages, counts and facets),
``searching`` (synonyms, typo candidates, plans, "did you mean", completions),
``members`` (merchant members' reads) and ``staff`` (bank staff's reads); the cache of
costly reads in ``_common``. Callers import from this package.
"""

from catalog.selectors.favourites import favourite_products, favourite_shops, is_favourite
from catalog.selectors.listing import (
    ORDERINGS,
    PRICE_BANDS,
    RELEVANCE,
    SORTS,
    Listing,
    ListingQuery,
    parse_listing_query,
    storefront_listing,
)
from catalog.selectors.members import (
    merchant_for_member,
    merchants_of_member,
    product_for_member,
    products_of_merchant,
)
from catalog.selectors.safety import (
    batch_lab_reports,
    lab_reports_prefetch,
    passing_report_expression,
    products_without_passing_report,
    recalled_expression,
    recalled_product_ids,
)
from catalog.selectors.searching import (
    SYNONYMS_CACHE_KEY,
    SYNONYMS_CACHE_SECONDS,
    clean_query,
    did_you_mean,
    popular_products,
    search_plan,
    search_suggestions,
    synonym_groups,
    synonyms,
    typo_terms,
)
from catalog.selectors.staff import (
    bank_merchant,
    bank_merchants,
    bank_product,
    listing_review_queue,
    parse_price,
)
from catalog.selectors.storefront import (
    batch_for_trace,
    category_and_descendant_ids,
    category_tree,
    current_batch,
    merchant_products,
    merchant_shop,
    product_detail,
    storefront_home,
    visible_merchants,
    visible_products,
)

__all__ = [
    "favourite_products", "favourite_shops", "is_favourite",
    "ORDERINGS",
    "PRICE_BANDS",
    "RELEVANCE",
    "SORTS",
    "SYNONYMS_CACHE_KEY",
    "SYNONYMS_CACHE_SECONDS",
    "Listing",
    "ListingQuery",
    "bank_merchant",
    "bank_merchants",
    "bank_product",
    "batch_for_trace",
    "batch_lab_reports",
    "lab_reports_prefetch",
    "passing_report_expression",
    "products_without_passing_report",
    "recalled_expression",
    "recalled_product_ids",
    "category_and_descendant_ids",
    "category_tree",
    "clean_query",
    "current_batch",
    "did_you_mean",
    "listing_review_queue",
    "merchant_for_member",
    "merchant_products",
    "merchant_shop",
    "merchants_of_member",
    "parse_listing_query",
    "parse_price",
    "popular_products",
    "product_detail",
    "product_for_member",
    "products_of_merchant",
    "search_plan",
    "search_suggestions",
    "storefront_home",
    "storefront_listing",
    "synonym_groups",
    "synonyms",
    "typo_terms",
    "visible_merchants",
    "visible_products",
]
