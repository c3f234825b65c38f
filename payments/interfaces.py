"""What settlement needs to ask outer apps, as interfaces they register at start-up.

``payments`` never imports ``lending``: when an order is settled, the repayment provider
that ``lending`` registers says which financing tied to the order is repaid first
(principal and interest, to the bank that lent). Without a provider nothing is repaid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orders.models import Order


@dataclass(frozen=True)
class Repayment:
    lender_bank_id: int
    principal: Decimal
    interest: Decimal
    reference: str  # the loan, for the ledger memo and the lender's own books


RepaymentProvider = Callable[["Order", Decimal], list[Repayment]]
# ``candidates(orders)``: of these orders, the ids the provider may have something for.
RepaymentCandidates = Callable[[list["Order"]], set[int]]

_providers: list[RepaymentProvider] = []
_candidates: dict[RepaymentProvider, RepaymentCandidates] = {}


def register_repayment_provider(provider: RepaymentProvider, *,
                                candidates: RepaymentCandidates | None = None) -> None:
    """``provider(order, available)`` returns the repayments due from this order's
    settlement, at most ``available`` in total. Called inside the settlement's
    transaction; a provider that touches a bank's schema enters it explicitly.

    ``candidates(orders)``, if given, answers for a whole chunk of orders at once (a few
    queries) which of them the provider may repay anything from: settlement then calls
    ``provider`` for those orders only. Without it, ``provider`` is asked of every order."""
    if provider not in _providers:
        _providers.append(provider)
    if candidates is not None:
        _candidates[provider] = candidates


def repayment_candidates(orders: list[Order]) -> dict[RepaymentProvider, set[int] | None]:
    """Per provider, the ids of ``orders`` it is to be asked about (None: every one)."""
    return {provider: (_candidates[provider](orders) if provider in _candidates else None)
            for provider in _providers}


def repayments_for(order: Order, available: Decimal,
                   candidates: dict[RepaymentProvider, set[int] | None] | None = None,
                   ) -> list[Repayment]:
    """The repayments due from the order's settlement, provider by provider, in the
    order they registered. ``candidates``: from ``repayment_candidates`` for the order's
    chunk; a provider whose candidates leave this order out is not asked."""
    due: list[Repayment] = []
    for provider in _providers:
        if candidates is not None:
            ids = candidates.get(provider)
            if ids is not None and order.pk not in ids:
                continue
        left = available - sum((r.principal + r.interest for r in due), Decimal("0"))
        if left <= 0:
            break
        due += provider(order, left)
    return due


# --- fees of partner platforms ------------------------------------------------------------

# ``rates(orders)``: of these orders, the fee rate of the partner that sold each (the
# orders no partner sold are left out).
PartnerFeeRates = Callable[[list["Order"]], dict[int, Decimal]]

_partner_fee_rates: PartnerFeeRates | None = None


def register_partner_fee_rates(rates: PartnerFeeRates) -> None:
    """The partner platforms' app tells settlement which orders a partner sold and at what
    fee rate. Called for a whole chunk of orders at once (a query or two)."""
    global _partner_fee_rates
    _partner_fee_rates = rates


def partner_fee_rates(orders: list[Order]) -> dict[int, Decimal]:
    if _partner_fee_rates is None or not orders:
        return {}
    return _partner_fee_rates(orders)


# --- other ways to pay a checkout ------------------------------------------------------------


@dataclass(frozen=True)
class PaymentOption:
    """Another way to pay a checkout than a card, shown on the pay page (for example the
    storefront bank's pay later or instalments), with the page that takes it."""

    title: str
    note: str
    url: str


PaymentOptionsProvider = Callable[..., list[PaymentOption]]

_option_providers: list[PaymentOptionsProvider] = []


def register_payment_options(provider: PaymentOptionsProvider) -> None:
    """``provider(request=..., checkout=...)`` returns the options it offers the buyer on
    this host; it must be quick and must not raise."""
    if provider not in _option_providers:
        _option_providers.append(provider)


def payment_options(*, request, checkout) -> list[PaymentOption]:
    options: list[PaymentOption] = []
    for provider in _option_providers:
        options += provider(request=request, checkout=checkout)
    return options


# --- points paid at checkout --------------------------------------------------------------

PointsRestorer = Callable[..., int]

_points_restorer: PointsRestorer | None = None


def register_points_restorer(restorer: PointsRestorer) -> None:
    """``restorer(order=..., value=..., reference=...)`` gives back the points that paid
    ``value`` of the order (to the storefront bank's programme) and returns how many
    points it restored (expired ones are not). Called inside the refund's transaction."""
    global _points_restorer
    _points_restorer = restorer


def restore_points(*, order: Order, value: Decimal, reference: str) -> int:
    if _points_restorer is None:
        raise RuntimeError("points were used but no points programme is installed")
    return _points_restorer(order=order, value=value, reference=reference)


# --- refunds of checkouts paid with credit -----------------------------------------------------


@dataclass(frozen=True)
class CreditRefund:
    """A refund taken off the loan that paid the order: the money goes back to the bank
    that lent (its loan principal), not to a card."""

    lender_bank_id: int
    reference: str  # the loan


CreditRefundHandler = Callable[..., "CreditRefund | None"]

_credit_refund_handlers: list[CreditRefundHandler] = []


def register_credit_refund_handler(handler: CreditRefundHandler) -> None:
    """``handler(refund=, amount=)`` reduces the loan that paid ``refund.order``'s checkout
    by ``amount`` and returns a ``CreditRefund``, or returns None when no loan of its paid
    the checkout; it raises ``ApplicationError`` when the loan cannot take the refund.
    Called inside the refund's transaction; it enters the lending bank's schema itself."""
    if handler not in _credit_refund_handlers:
        _credit_refund_handlers.append(handler)


def credit_refund(*, refund, amount: Decimal) -> CreditRefund | None:
    for handler in _credit_refund_handlers:
        done = handler(refund=refund, amount=amount)
        if done is not None:
            return done
    return None
