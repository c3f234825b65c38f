"""Pay later and instalments at checkout (buyers): the options offered and the
financing, decided at once within the limit."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import BuyerKind
from banks.models import Bank
from core.errors import ApplicationError
from core.money import quantize_money
from lending import calc
from lending.models import Application, PartyKind, Product
from lending.services._common import ZERO, _app_transition, _in_bank, _today
from lending.services.applications import _disburse
from lending.services.credit import _lock_borrower, _profile_for_decision, credit_of
from lending.services.policy import policy_get
from orders import services as order_services
from orders.models import Checkout
from payments import services as payment_services


def checkout_financing_options(*, bank: Bank, checkout: Checkout, buyer) -> dict:
    """What the buyer may choose at this checkout on this bank's storefront."""
    _in_bank(bank)
    policy = policy_get()
    credit = credit_of(party=PartyKind.BUYER, party_id=buyer.pk)
    profile = credit.profile
    usable = bool(profile and profile.consented and profile.tier in policy.auto_tiers
                  and profile.rate is not None and checkout.total <= credit.available
                  and checkout.total <= policy.second_approval_over)
    business = buyer.buyer_kind == BuyerKind.BUSINESS
    options = {"credit": credit, "consented": bool(profile and profile.consented),
               "pay_later": None, "instalments": []}
    if not usable:
        return options
    if business:
        days = policy.purchase_financing_days
        options["pay_later"] = {"days": days, "rate": profile.rate,
                                "due": _today() + timedelta(days=days),
                                "interest": quantize_money(calc.day_interest(
                                    checkout.total, profile.rate, days))}
    else:
        for months in policy.terms:
            rows = calc.equal_instalments(checkout.total, profile.rate, months, _today())
            options["instalments"].append({
                "months": months, "rate": profile.rate, "first": rows[0].amount,
                "payment": calc.level_payment(checkout.total, profile.rate, months),
                "interest": sum((r.interest for r in rows), ZERO)})
    return options


@transaction.atomic
def checkout_finance(*, bank: Bank, checkout: Checkout, buyer, months: int | None = None,
                     ) -> Application:
    """Pay a checkout with the bank's credit: pay later (business buyers, ``months``
    None) or equal instalments over ``months`` (individual buyers). Decided at once, only
    within the buyer's available limit and an automatically approved tier."""
    _in_bank(bank)
    checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
    if checkout.buyer_id != buyer.pk:
        raise ApplicationError(_("This checkout is not yours."), code="not_found")
    if checkout.storefront_bank_id != bank.pk:
        raise ApplicationError(_("Credit is offered at checkout on the bank's own "
                                 "storefront."), code="not_found")
    payment_services.checkout_assert_payable(checkout)
    if checkout.points_value:
        raise ApplicationError(_("Points are applied to this checkout; credit pays whole "
                                 "checkouts only. Remove the points or pay by card."),
                               code="not_eligible")
    _lock_borrower(PartyKind.BUYER, buyer.pk)
    policy = policy_get()
    business = buyer.buyer_kind == BuyerKind.BUSINESS
    if months is None and not business:
        raise ApplicationError(_("Pay later is for registered business buyers; choose "
                                 "instalments."), code="not_eligible")
    if months is not None and business:
        raise ApplicationError(_("Business buyers use pay later, not instalments."),
                               code="not_eligible")
    if months is not None and months not in policy.terms:
        raise ValidationError({"months": [_("Choose one of %(terms)s months.")
                                          % {"terms": ", ".join(map(str, policy.terms))}]})
    credit = credit_of(party=PartyKind.BUYER, party_id=buyer.pk)
    profile = _profile_for_decision(credit)
    if profile.tier not in policy.auto_tiers:
        raise ApplicationError(_("Credit at checkout is not available for your tier; pay by "
                                 "card."), code="not_eligible")
    if checkout.total > credit.available or checkout.total > policy.second_approval_over:
        raise ApplicationError(
            _("This checkout (%(total)s yuan) is more than your available credit "
              "(%(available)s yuan); pay by card.")
            % {"total": checkout.total, "available": credit.available},
            code="over_limit")
    app = Application(
        product=Product.INSTALMENTS if months else Product.PURCHASE_FINANCING,
        party=PartyKind.BUYER, user_id=buyer.pk, checkout_id=checkout.pk,
        amount=checkout.total, months=months,
        term_days=None if months else policy.purchase_financing_days, rate=profile.rate,
        score=profile.score, tier=profile.tier, limit=profile.limit,
        available=credit.available, status="", auto_decided=True)
    _app_transition(app, "auto_approve", actor_id=None,
                    note=_("Within the limit and tier: approved automatically."))
    _disburse(bank, app, actor_id=buyer.pk)
    order_services.checkout_mark_paid(checkout=checkout)
    return app
