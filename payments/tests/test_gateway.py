"""The official stripe library reaches the configured Stripe-compatible server over HTTP."""

import pytest
import stripe
from django.conf import settings

from payments.gateway import stripe_client


def card(client, number: str) -> str:
    return client.v1.payment_methods.create(params={
        "type": "card",
        "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    }).id


def test_the_gateway_talks_to_the_configured_server():
    assert settings.STRIPE_API_BASE.startswith("http://127.0.0.1:")
    client = stripe_client()
    intent = client.v1.payment_intents.create(params={
        "amount": 12345, "currency": "cny", "confirm": True,
        "payment_method": card(client, "4242424242424242")})
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 12345, "cny")
    fetched = client.v1.payment_intents.retrieve(intent.id)
    assert fetched.status == "succeeded"


def test_a_declined_card_is_reported():
    client = stripe_client()
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.create(params={
            "amount": 500, "currency": "cny", "confirm": True,
            "payment_method": card(client, "4000000000000341")})
    assert info.value.code == "card_declined"
