"""Facts about the request that several apps need."""

from __future__ import annotations

from django.conf import settings


def client_address(request) -> str:
    """The client's IP address: the connection's, or, behind ``TRUSTED_PROXY_COUNT``
    proxies that append to ``X-Forwarded-For``, the address the outermost of them saw.
    Addresses a client wrote into the header itself (left of those) are ignored."""
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies][:45]
    return (request.META.get("REMOTE_ADDR") or "")[:45]
