"""Storefront traffic: visits, product views, searches and share-link clicks.

After the page is made, an HTML page answered 200 to a GET on a storefront (a bank's host
or the portal) is classified by its resolved URL name and buffered through
``federation.recorder`` (one Redis call for the whole request, made when the response is
closed, after the page was sent; no database query):

- no visitor cookie yet: a visit starts (``visit``), and the cookie is set;
- ``catalog:product``: ``product_view`` (the flush looks up merchant, bank, category and
  region from the product id);
- ``catalog:search``: ``search`` with the words;
- ``?ref=<code>`` on any page: ``share_click`` (the flush resolves the link).

The request is also kept in a context variable while it runs, so that the receivers of
``orders.hooks`` (add-to-cart, checkout) know the storefront and the visitor.
"""

from __future__ import annotations

import contextvars
import time

from federation import recorder

SKIP_PREFIXES = ("/api/", "/static/", "/media/", "/healthz", "/console/", "/merchant/",
                 "/federation/", "/admin/", "/i18n/", "/jsi18n/")
BOT_MARKERS = ("bot", "spider", "crawl", "slurp", "headlesschrome/")
VISIT_IDLE_SECONDS = 30 * 60   # a visit ends after this long without a page
REFRESH_SECONDS = 5 * 60       # the cookie's expiry is pushed back at most this often

current_request: contextvars.ContextVar = contextvars.ContextVar("traffic_request",
                                                                 default=None)


def _parse_cookie(value: str) -> tuple[str, int] | None:
    token, _sep, stamp = value.partition(".")
    if not token or len(token) > 40 or not stamp.isdigit():
        return None
    return token, int(stamp)


class TrafficMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        reset = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(reset)
        try:
            if (request.method == "GET" and response.status_code == 200
                    and not request.path.startswith(SKIP_PREFIXES)
                    and response.get("Content-Type", "").startswith("text/html")):
                self._page(request, response)
        except Exception:  # statistics never break a page
            recorder.log.exception("classifying a page for traffic events")
        return response

    @staticmethod
    def _page(request, response) -> None:
        agent = request.META.get("HTTP_USER_AGENT", "").lower()
        if any(marker in agent for marker in BOT_MARKERS):
            return
        now = int(time.time())
        found = _parse_cookie(request.COOKIES.get(recorder.VISITOR_COOKIE, ""))
        new_visit = found is None or now - found[1] > VISIT_IDLE_SECONDS
        token = recorder.new_visitor_token() if found is None else found[0]
        request.traffic_visitor = token
        if new_visit or now - found[1] > REFRESH_SECONDS:
            response.set_cookie(recorder.VISITOR_COOKIE, f"{token}.{now}",
                                max_age=VISIT_IDLE_SECONDS, httponly=True, samesite="Lax",
                                secure=request.is_secure())
        context = recorder.request_context(request)
        lines = []
        if new_visit:
            lines.append(recorder.encode("visit", **context))
        match = request.resolver_match
        name = match.view_name if match is not None else ""
        if name == "catalog:product":
            lines.append(recorder.encode("product_view", product_id=match.kwargs.get(
                "product_id"), **context))
        elif name == "catalog:search":
            words = " ".join(request.GET.get("q", "").split())[:200]
            if words:
                lines.append(recorder.encode(
                    "search", query=words,
                    results=getattr(request, "search_results", None), **context))
        code = request.GET.get("ref", "").strip()[:40]
        if code:
            lines.append(recorder.encode("share_click", share_code=code, **context))
        lines = [line for line in lines if line]
        if lines:
            # Buffered when the response is closed, i.e. after the server has sent the page
            # (WSGI servers close the response last): the visitor never waits for Redis.
            response._resource_closers.append(lambda: recorder.push(lines))
