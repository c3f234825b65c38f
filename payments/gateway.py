"""The card gateway client: the official ``stripe`` library, pointed at the server the
settings name (the embedded Stripe-compatible server in development and tests, Stripe
itself in production). Only ``payments`` talks to it; domain code never imports stripe.
"""

from __future__ import annotations

import stripe
from django.conf import settings


def stripe_client() -> stripe.StripeClient:
    base = settings.STRIPE_API_BASE
    if base:
        return stripe.StripeClient(settings.STRIPE_API_KEY, base_addresses={"api": base},
                                   max_network_retries=2)
    return stripe.StripeClient(settings.STRIPE_API_KEY, max_network_retries=2)
