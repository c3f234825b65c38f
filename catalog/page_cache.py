"""Storefront fragments from cache: the product grids of home, category and shop pages.

A fragment is the rendered HTML of a page's catalog part (cards, facets, pager; never a
form, a token or anything of the visitor's), kept in Redis under a key of its host (so
its bank and its links), language, catalog version and the page's own parts (category,
filters, page), for ``STOREFRONT_CACHE_SECONDS``. Everyone gets the same fragment, signed
in or not; the personal parts of a page (header, cart, buying box, share buttons) are
rendered around it on every request.

Invalidation: any saved or deleted product, SKU, merchant, category, batch, bank, branch
or domain sets a new catalog version after its transaction commits (``catalog_changed``,
connected in ``catalog.apps``), so every fragment key changes at once; the old entries
expire on their own. Stock levels and sales counts change through conditional UPDATEs
(no signal): listing cards do not show stock, and the order by sales may lag by the
cache's lifetime. Without Redis the pages are rendered every time, never broken.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction
from django.utils.translation import get_language

VERSION_KEY = "catalog:pages:version"


def catalog_version() -> str | None:
    """The current catalog version (one for every domain), None when Redis is down."""
    shared = caches["shared"]
    try:
        version = shared.get(VERSION_KEY)
        if version is None:
            shared.add(VERSION_KEY, uuid.uuid4().hex, None)
            version = shared.get(VERSION_KEY)
    except Exception:  # noqa: BLE001 - the cache is an optimisation only
        return None
    return version


def _bump() -> None:
    with contextlib.suppress(Exception):
        caches["shared"].set(VERSION_KEY, uuid.uuid4().hex, None)


def catalog_changed(**_signal) -> None:
    """A write that changes what storefronts show: new fragment keys once it commits."""
    transaction.on_commit(_bump)


def fragment(request, name: str, parts: tuple, render: Callable[[], str]) -> str:
    """The fragment ``name`` of this page, from cache or rendered (and kept)."""
    seconds = settings.STOREFRONT_CACHE_SECONDS
    version = catalog_version() if seconds else None
    if version is None:
        return render()
    raw = "|".join([name, request.get_host(), get_language() or "", version,
                    *(str(p) for p in parts)])
    key = "catalog:fragment:" + hashlib.sha1(raw.encode()).hexdigest()  # noqa: S324
    return cached(key, seconds, render)


def cached(key: str, seconds: int, compute: Callable):
    """``compute()``, kept in the (tenant-aware) cache under ``key`` for ``seconds``; without
    Redis, computed every time (the cache is an optimisation only)."""
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001
        return compute()
    if value is None:
        value = compute()
        with contextlib.suppress(Exception):
            cache.set(key, value, seconds)
    return value
