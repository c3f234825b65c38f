"""The card gateway client: the official ``stripe`` library, pointed at the server the
settings name (the embedded Stripe-compatible server in development and tests, Stripe
itself in production). Only ``payments`` talks to it; domain code never imports stripe.
"""

from __future__ import annotations

import urllib.parse
import urllib.request

import stripe
from django.conf import settings


def stripe_client() -> stripe.StripeClient:
    base = settings.STRIPE_API_BASE
    if base:
        return stripe.StripeClient(settings.STRIPE_API_KEY, base_addresses={"api": base},
                                   max_network_retries=2)
    return stripe.StripeClient(settings.STRIPE_API_KEY, max_network_retries=2)


def register_local_webhook(url: str, *, webhook_id: str = "platform") -> None:
    """Tell the local Stripe-compatible server where to deliver events, signed with our
    secret (with Stripe itself, the endpoint is configured in its dashboard)."""
    if not settings.STRIPE_API_BASE:
        raise RuntimeError("webhooks of Stripe itself are configured in its dashboard")
    body = urllib.parse.urlencode({"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET})
    request = urllib.request.Request(  # noqa: S310 - our own configured server
        f"{settings.STRIPE_API_BASE}/_config/webhooks/{webhook_id}", data=body.encode(),
        method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()
