"""Lending test data, made by the real services: consenting parties of a bank with
profiles computed from their real orders, under a policy whose tier thresholds tests set."""

from __future__ import annotations

from django_tenants.utils import schema_context

from accounts.models import ConsentPurpose
from accounts.services import consent_grant, user_register
from lending import services as lending
from lending.models import PartyKind
from tests import unique

PASSWORD = "Test@pass-2026"


def buyer(*, business: bool = False, phone: str = ""):
    name = f"t-buyer-{unique.tag(8)}"
    return user_register(username=name, password=PASSWORD, phone=phone, display_name=name,
                         buyer_kind="business" if business else "individual",
                         business_name="乡村小超市" if business else "")


def lenient_policy(bank, actor, **changes):
    """Thresholds low enough that a new party with some trade gets tier A."""
    with schema_context(bank.schema_name):
        return lending.policy_update(bank=bank, actor=actor, **{
            "tier_a_min": 400, "tier_b_min": 350, "tier_c_min": 300, **changes})


def scored_merchant(bank, merchant, actor):
    with schema_context(bank.schema_name):
        lending.merchant_consent_grant(bank=bank, merchant=merchant, actor=actor)
        return lending.profile_compute(bank=bank, party=PartyKind.MERCHANT,
                                       party_id=merchant.pk)


def scored_buyer(bank, user):
    consent_grant(user=user, purpose=ConsentPurpose.CREDIT, bank=bank, source="test")
    with schema_context(bank.schema_name):
        return lending.profile_compute(bank=bank, party=PartyKind.BUYER, party_id=user.pk)
