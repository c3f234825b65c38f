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

Whole pages (``whole_page``): the home, category, search, shop and product pages of a
visitor without a session or a messages cookie (never signed in on this browser, no cart,
no message waiting) are kept whole, under a key of host, scheme, language, catalog version,
path and query, for ``STOREFRONT_PAGE_CACHE_SECONDS``; such a visitor's second page runs no
SQL. The page is kept without a CSRF token: it is rendered with a placeholder where the
token goes (``csrf_placeholder``) and every answer, from cache or not, gets the visitor's
own token put in. Nothing else of the visitor is in these pages (the header of an
anonymous visitor without a session is the same for all). A page is not kept when the view
set a cookie, changed the session, queued a message, used a real CSRF token, set ``Vary``
or answered anything but 200 HTML. The middleware around the view (CSRF cookie, traffic
visitor cookie, referral touches, traffic events) runs on every request, cached or not;
what a view leaves on the request for them (``search_results``) is kept with the page.

What may lag by the page's lifetime: stock ("n in stock", "Sold out") and a flash sale's
units left, which change by conditional UPDATEs without a new catalog version. A flash
sale starting or ending is on time: the product page says when its next sale boundary is
(``expire_by``) and is not kept past it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.cache import cache, caches
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
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


# --- whole pages for visitors without a session ---------------------------------------------

# Where the CSRF token goes in a page rendered for keeping (only letters and underscores:
# templates' escaping leaves it as it is).
CSRF_MARK = "csrf_token_of_this_visitor_goes_here_7c1e"
_RENDERING = "_whole_page_rendering"
_EXPIRES = "_whole_page_expires"
# what a view leaves on the request for the middleware after it (federation.middleware)
REQUEST_ATTRS = ("search_results",)


def csrf_placeholder(request) -> dict:
    """Context processor: while a page is rendered for keeping, ``{% csrf_token %}`` writes
    the placeholder instead of a token of this visitor's (it overrides the built-in one)."""
    if getattr(request, _RENDERING, False):
        return {"csrf_token": CSRF_MARK}
    return {}


def expire_by(request, when: datetime | None) -> None:
    """A page shows something that changes at ``when`` (a flash sale starts or ends): it is
    not kept past it."""
    if when is None:
        return
    earlier = getattr(request, _EXPIRES, None)
    if earlier is None or when < earlier:
        setattr(request, _EXPIRES, when)


def _keepable_request(request) -> bool:
    return (request.method == "GET"
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and "messages" not in request.COOKIES
            # a share link's visit is attributed (a session is made): rendered each time
            and "ref" not in request.GET)


def _page_key(request, version: str) -> str:
    raw = "|".join(["page", request.scheme, request.get_host(), get_language() or "",
                    version, request.path, repr(sorted(request.GET.lists()))])
    return "catalog:page:" + hashlib.sha1(raw.encode()).hexdigest()  # noqa: S324


def _keepable_response(request, response) -> bool:
    session = getattr(request, "session", None)
    queued = getattr(getattr(request, "_messages", None), "_queued_messages", None)
    return (response.status_code == 200
            and not response.streaming
            and response.get("Content-Type", "").startswith("text/html")
            and not response.cookies
            and not response.has_header("Vary")
            and not (session is not None and session.modified)
            and not queued
            # a real token of this visitor's went into the page (not through the template
            # tag; or the cookie is renewed anyway): not kept
            and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE"))


def _with_token(request, content: bytes) -> bytes:
    if CSRF_MARK.encode() not in content:
        return content
    return content.replace(CSRF_MARK.encode(), get_token(request).encode())


def whole_page(view):
    """Keep the view's page whole for visitors without a session (see the module doc)."""
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        seconds = settings.STOREFRONT_PAGE_CACHE_SECONDS
        version = catalog_version() if seconds and _keepable_request(request) else None
        if version is None:
            return view(request, *args, **kwargs)
        key = _page_key(request, version)
        try:
            kept = cache.get(key)
        except Exception:  # noqa: BLE001 - the cache is an optimisation only
            return view(request, *args, **kwargs)
        if kept is not None:
            for name, value in kept["attrs"].items():
                setattr(request, name, value)
            return HttpResponse(_with_token(request, kept["content"]),
                                content_type=kept["content_type"])
        setattr(request, _RENDERING, True)
        try:
            response = view(request, *args, **kwargs)
        finally:
            setattr(request, _RENDERING, False)
        if _keepable_response(request, response):
            lifetime = seconds
            until = getattr(request, _EXPIRES, None)
            if until is not None:
                lifetime = min(seconds, int((until - timezone.now()).total_seconds()))
            if lifetime > 0:
                with contextlib.suppress(Exception):
                    cache.set(key, {
                        "content": response.content,
                        "content_type": response["Content-Type"],
                        "attrs": {name: getattr(request, name) for name in REQUEST_ATTRS
                                  if hasattr(request, name)},
                    }, lifetime)
        if not response.streaming:
            response.content = _with_token(request, response.content)
        return response

    return wrapped
