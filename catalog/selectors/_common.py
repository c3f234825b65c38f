"""The cache of the costly reads (counts, facets, suggestions)."""

from __future__ import annotations

from django.conf import settings

from catalog import page_cache


def _cached(key: str, compute):
    """Counting a whole catalog is the costly part of a listing; counts and facets may lag
    the catalog by CATALOG_LISTING_CACHE_SECONDS. Without the cache (Redis down) the
    page is slower, not broken."""
    seconds = settings.CATALOG_LISTING_CACHE_SECONDS
    if not seconds:
        return compute()
    return page_cache.cached(key, seconds, compute)
