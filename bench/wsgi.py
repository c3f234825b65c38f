"""What gunicorn serves in the load benchmarks: the platform's WSGI application, plus a
bare Django view for the baselines measured on the same server.

Under ``/__bare__/`` the bare view goes through Django's own WSGI handler (request
object, one fixed view, response), but through no middleware, no template, no database
and no cache: the floor of a Django answer on this machine and server settings. Under
``/__bare_mw__/`` the same view goes through the platform's whole middleware list (bank
routing by host, sessions, locale, CSRF, authentication, referral and traffic
recording, ...): what a page costs before its view does anything.

* ``/__bare__/ok``: a two-byte text answer (the baseline of ``bench/flash.py``);
* ``/__bare__/<key>``: the HTML stored under ``<key>`` in the JSON file named by
  ``BENCH_BARE_PAGES`` (``{key: html}``), loaded once per worker at start (the baseline
  of ``bench/load.py``: the same pages as the storefront's, from memory).

Never used by the platform itself: only ``bench/flash.py`` and ``bench/load.py`` start a
gunicorn on ``bench.wsgi:application``.
"""

from __future__ import annotations

import json
import os

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponse, HttpResponseNotFound
from django.urls import ResolverMatch

from config.wsgi import application as platform_application

PREFIX = "/__bare__"
PREFIX_MW = "/__bare_mw__"

_pages: dict[str, bytes] = {}
if os.environ.get("BENCH_BARE_PAGES"):
    with open(os.environ["BENCH_BARE_PAGES"], encoding="utf-8") as f:
        _pages = {k: v.encode() for k, v in json.load(f).items()}


def bare_view(request):
    key = request.path.split("/", 2)[2]
    key = "/" + key
    if key == "/ok":
        return HttpResponse(b"ok", content_type="text/plain")
    html = _pages.get(key)
    if html is None:
        return HttpResponseNotFound(b"no such page", content_type="text/plain")
    return HttpResponse(html, content_type="text/html; charset=utf-8")


class BareHandler(WSGIHandler):
    """Django's WSGI handler with no middleware and one view for every path."""

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)

    def resolve_request(self, request):
        match = ResolverMatch(bare_view, (), {}, url_name="bare")
        request.resolver_match = match
        return match


class MiddlewareBareHandler(WSGIHandler):
    """Django's WSGI handler with the platform's middleware and one view for every path."""

    def resolve_request(self, request):
        match = ResolverMatch(bare_view, (), {}, url_name="bare")
        request.resolver_match = match
        return match


_bare = BareHandler()
_bare_mw = MiddlewareBareHandler()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith(PREFIX + "/"):
        return _bare(environ, start_response)
    if path.startswith(PREFIX_MW + "/"):
        return _bare_mw(environ, start_response)
    return platform_application(environ, start_response)
