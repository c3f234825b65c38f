"""Cards: their details checked, charges other than a checkout's (a loan repayment, a
points-mall cash part), and our words for the gateway's decline codes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

import stripe
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from core.money import to_fen
from payments.gateway import stripe_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int | str
    exp_year: int | str
    cvc: str


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _clean_card(card: Card) -> dict:
    errors: dict[str, list[str]] = {}
    number = "".join(ch for ch in str(card.number or "") if not ch.isspace() and ch != "-")
    if not (number.isdigit() and 12 <= len(number) <= 19 and _luhn_ok(number)):
        errors["number"] = [_("Enter a valid card number.")]
    try:
        month, year = int(card.exp_month), int(card.exp_year)
        year = year + 2000 if year < 100 else year
        today = timezone.localdate()
        if not 1 <= month <= 12 or (year, month) < (today.year, today.month) or year > 2100:
            raise ValueError
    except (TypeError, ValueError):
        errors["exp"] = [_("Enter the card's expiry date (month and year, not in the past).")]
        month = year = 0
    cvc = str(card.cvc or "").strip()
    if not (cvc.isdigit() and len(cvc) in (3, 4)):
        errors["cvc"] = [_("Enter the 3 or 4 digit security code.")]
    if errors:
        raise ValidationError(errors)
    return {"number": number, "exp_month": month, "exp_year": year, "cvc": cvc}


# What the HTTP client says when it could not connect at all (urllib3's wording).
NOT_CONNECTED = ("Failed to establish a new connection", "Connection refused")


def charge_outcome_unknown(exc: stripe.StripeError) -> bool:
    """A gateway error after which the charge may or may not have happened: the
    connection failed or the gateway failed (5xx). A refused request (4xx) charged
    nothing."""
    if isinstance(exc, stripe.APIConnectionError):
        # A connection that was never made sent nothing: nothing can have been charged.
        return not any(sign in str(exc) for sign in NOT_CONNECTED)
    status = getattr(exc, "http_status", None)
    return status is None or status >= 500


@dataclass(frozen=True)
class Charge:
    succeeded: bool
    intent_id: str
    message: str = ""
    # The gateway did not answer: the card may have been charged. Ask again later with
    # ``card_charge_find`` (same idempotency key).
    unknown: bool = False


def card_charge(*, amount: Decimal, card: Card, idempotency_key: str, description: str,
                metadata: dict[str, str] | None = None) -> Charge:
    """Charge a card once for something other than a checkout (a loan repayment, for
    example). The caller commits its own record under ``idempotency_key`` before calling,
    so a retry with the key reaches the same charge at the gateway. Cards that ask for
    authentication are not charged here (the intent is cancelled and a message returned).
    Raises ``ApplicationError`` when the gateway does not answer."""
    card_params = _clean_card(card)
    client = stripe_client()
    try:
        method = client.v1.payment_methods.create(
            params={"type": "card", "card": card_params},
            options={"idempotency_key": f"{idempotency_key}:pm"})
        intent = client.v1.payment_intents.create(
            params={"amount": to_fen(amount), "currency": "cny", "payment_method": method.id,
                    "confirm": True,
                    "metadata": {"description": description[:200], "charge_key": idempotency_key,
                                 **(metadata or {})}},
            options={"idempotency_key": idempotency_key})
    except stripe.CardError as exc:
        error = (exc.json_body or {}).get("error", {})
        intent_id = (error.get("payment_intent") or {}).get("id") or ""
        return Charge(False, intent_id, decline_message(error.get("decline_code") or exc.code))
    except stripe.StripeError as exc:
        log.warning("gateway error charging %s: %s", idempotency_key, exc)
        if charge_outcome_unknown(exc):
            return Charge(False, "", _("The card service did not answer. We are checking "
                                       "whether the card was charged; do not pay again."),
                          unknown=True)
        raise ApplicationError(_("The card service did not answer; nothing was charged. "
                                 "Try again."), code="gateway_unavailable") from exc
    return _charge_of(client, intent)


def _charge_of(client, intent) -> Charge:
    if intent.status == "succeeded":
        return Charge(True, intent.id)
    if intent.status == "requires_action":
        try:
            client.v1.payment_intents.cancel(intent.id)
        except stripe.StripeError as exc:  # it cannot be charged without authentication
            log.warning("cancelling %s: %s", intent.id, exc)
        return Charge(False, intent.id, _("This card asks for authentication, which this "
                                          "payment cannot do; use another card."))
    return Charge(False, intent.id, _("The card was declined."))


class GatewayUnavailable(Exception):
    """The card service did not answer; what happened is still unknown. The callers of
    the payments app catch this, never the gateway library's own errors."""


def card_charge_find(*, idempotency_key: str) -> Charge:
    """What became of a charge whose answer was lost: look for its intent at the gateway
    by our key. None found means nothing was charged. Raises ``GatewayUnavailable`` when
    the gateway still does not answer."""
    client = stripe_client()
    try:
        for intent in client.v1.payment_intents.list(
                params={"limit": 100}).auto_paging_iter():
            if (intent.to_dict().get("metadata") or {}).get("charge_key") == idempotency_key:
                return _charge_of(client, intent)
    except stripe.StripeError as exc:
        raise GatewayUnavailable(str(exc)) from exc
    return Charge(False, "", _("The payment did not reach the card service; nothing was "
                               "charged."))


def decline_message(code: str | None) -> str:
    """Our own words for the gateway's decline codes (its messages are English only)."""
    return {
        "insufficient_funds": _("insufficient funds"),
        "expired_card": _("the card has expired"),
        "incorrect_cvc": _("the security code is wrong"),
        "invalid_cvc": _("the security code is wrong"),
        "incorrect_number": _("the card number is wrong"),
        "invalid_number": _("the card number is wrong"),
        "processing_error": _("the card service had a problem"),
        "payment_intent_authentication_failure": _("the card's bank could not verify you"),
    }.get(code or "", _("declined by the card's bank"))
