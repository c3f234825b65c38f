"""Consent to credit use of platform data: a shop's (given by a member) and a
person's; either way the profile is worked out again at once."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ConsentPurpose
from accounts.services import consent_grant, consent_withdraw
from banks.models import Bank
from catalog.models import Merchant
from core.errors import ApplicationError
from lending.models import CreditProfile, MerchantConsent, PartyKind
from lending.services._common import _in_bank
from lending.services.scoring import profile_compute


def merchant_consent_grant(*, bank: Bank, merchant: Merchant, actor) -> MerchantConsent:
    _in_bank(bank)
    if merchant.bank_id != bank.pk:
        raise ApplicationError(_("Only the merchant's own bank can lend to it."),
                               code="not_found")
    live = MerchantConsent.objects.filter(merchant_id=merchant.pk,
                                          withdrawn_at__isnull=True).first()
    if live:
        return live
    try:
        with transaction.atomic():
            return MerchantConsent.objects.create(merchant_id=merchant.pk, given_by_id=actor.pk,
                                                  granted_at=timezone.now())
    except IntegrityError:
        return MerchantConsent.objects.get(merchant_id=merchant.pk, withdrawn_at__isnull=True)


def merchant_consent_withdraw(*, bank: Bank, merchant: Merchant, actor) -> int:
    _in_bank(bank)
    return MerchantConsent.objects.filter(merchant_id=merchant.pk,
                                          withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now())


@transaction.atomic
def buyer_consent_set(*, bank: Bank, user, agree: bool, source: str = "") -> CreditProfile:
    """A person agrees (or no longer agrees) that the bank uses their platform data for
    credit; either way their profile is worked out again at once (no consent: no score,
    no limit; loans already taken stay)."""
    _in_bank(bank)
    if agree:
        consent_grant(user=user, purpose=ConsentPurpose.CREDIT, bank=bank, source=source)
    else:
        consent_withdraw(user=user, purpose=ConsentPurpose.CREDIT, bank=bank)
    return profile_compute(bank=bank, party=PartyKind.BUYER, party_id=user.pk, actor=user)


@transaction.atomic
def merchant_consent_set(*, bank: Bank, merchant: Merchant, actor, agree: bool
                         ) -> CreditProfile:
    """The same for a shop, given by a member of it."""
    if agree:
        merchant_consent_grant(bank=bank, merchant=merchant, actor=actor)
    else:
        merchant_consent_withdraw(bank=bank, merchant=merchant, actor=actor)
    return profile_compute(bank=bank, party=PartyKind.MERCHANT, party_id=merchant.pk,
                           actor=actor)
