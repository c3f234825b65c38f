"""Limits: what a party owes and may still borrow, and the profile a decision uses."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from lending.models import (
    Application,
    ApplicationStatus,
    CreditProfile,
    LoanStatus,
    PartyKind,
    ScheduleLine,
    Tier,
    unpaid_principal,
)
from lending.services._common import ZERO


def outstanding_principal(*, party: str, party_id: int) -> Decimal:
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    lines = ScheduleLine.objects.filter(
        loan__party=party, loan__status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE],
        **{f"loan__{key}": party_id}).aggregate(unpaid=unpaid_principal(""))
    # Applications approved and not yet disbursed hold their amount too.
    held = Application.objects.filter(party=party, status=ApplicationStatus.APPROVED,
                                      **{key: party_id}).aggregate(s=Sum("amount"))["s"]
    return lines["unpaid"] + (held or ZERO)


@dataclass(frozen=True)
class Credit:
    profile: CreditProfile | None
    outstanding: Decimal
    available: Decimal


def _lock_borrower(party: str, party_id: int) -> None:
    """Serialise decisions on one borrower (two checkouts or applications at once must
    not both spend the same available limit): lock the party's profile row."""
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    list(CreditProfile.objects.select_for_update().filter(party=party, **{key: party_id})
         .values_list("pk", flat=True))


def credit_of(*, party: str, party_id: int) -> Credit:
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    profile = CreditProfile.objects.filter(party=party, **{key: party_id}).first()
    outstanding = outstanding_principal(party=party, party_id=party_id)
    limit = profile.limit if profile and profile.consented else ZERO
    return Credit(profile, outstanding, max(limit - outstanding, ZERO))


def _profile_for_decision(credit: Credit) -> CreditProfile:
    profile = credit.profile
    if profile is None or not profile.consented:
        raise ApplicationError(_("Agree to the bank using your platform data for credit, "
                                 "then your limit is worked out."), code="no_consent")
    if profile.tier == Tier.D or profile.rate is None:
        raise ApplicationError(_("Your trading record does not yet support credit at this "
                                 "bank."), code="no_credit")
    return profile
