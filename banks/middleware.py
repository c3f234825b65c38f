"""Routing by host: the portal's hosts serve the federation (public schema), every other
host must be a member bank's domain, and an unknown host gets a 404 page, never a 500."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpResponseNotFound
from django.template.loader import render_to_string
from django.urls import set_urlconf
from django.utils import translation
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_tenant_domain_model

# Host -> bank, per process: the lookup is two statements and model building on every
# request (about 2 ms, see bench/README.md). Entries live HOST_CACHE_SECONDS; saving or
# deleting a Bank or Domain clears this process's cache at once (banks/signals.py), other
# processes see the change within HOST_CACHE_SECONDS. Unknown hosts are never cached, and
# the cache is bounded, so random Host headers cannot grow it.
HOST_CACHE_SECONDS = 30
HOST_CACHE_SIZE = 1000
_host_cache: dict[str, tuple[float, object]] = {}


def clear_host_cache(*args, **kwargs) -> None:
    _host_cache.clear()


class BankRoutingMiddleware(TenantMainMiddleware):
    def get_tenant(self, domain_model, hostname):
        now = time.monotonic()
        hit = _host_cache.get(hostname)
        if hit is not None and now - hit[0] < HOST_CACHE_SECONDS:
            return hit[1]
        tenant = super().get_tenant(domain_model, hostname)  # raises DoesNotExist
        if len(_host_cache) >= HOST_CACHE_SIZE:
            _host_cache.clear()
        _host_cache[hostname] = (now, tenant)
        return tenant

    @staticmethod
    def hostname_from_request(request):
        # Host names are case-insensitive; domains are stored in lower case. A leading
        # "www." is not stripped: a bank's domain is matched exactly as onboarded.
        return request.get_host().split(":")[0].lower()

    def process_request(self, request):
        connection.set_schema_to_public()
        request.bank = None
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return self.unknown_host(request, "")

        if hostname in settings.PORTAL_DOMAINS:
            request.tenant = connection.tenant
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
            return None

        domain_model = get_tenant_domain_model()
        try:
            tenant = self.get_tenant(domain_model, hostname)
        except domain_model.DoesNotExist:
            return self.unknown_host(request, hostname)
        if not tenant.is_active:
            return self.unknown_host(request, hostname)

        tenant.domain_url = hostname
        request.tenant = tenant
        request.bank = tenant
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None

    @staticmethod
    def unknown_host(request, hostname: str):
        language = translation.get_language_from_request(request)
        with translation.override(language):
            body = render_to_string("core/unknown_host.html", {
                "hostname": hostname,
                "portal_domain": settings.PORTAL_DOMAINS[0] if settings.PORTAL_DOMAINS else "",
                "LANGUAGE_CODE": language,
            })
        return HttpResponseNotFound(body)
