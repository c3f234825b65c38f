"""Credit profiles: one party scored on demand, or every party of the bank in a run
(a chunk per transaction, with progress)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ConsentPurpose
from accounts.selectors import consenting_user_ids, has_consent
from banks.models import Bank
from catalog.models import Merchant, MerchantStatus
from core.errors import ApplicationError
from lending import scoring
from lending.models import (
    CreditDataUse,
    CreditProfile,
    LendingPolicy,
    MerchantConsent,
    PartyKind,
    ScoringRun,
    Tier,
)
from lending.services._common import ZERO, _in_bank
from lending.services.policy import policy_get

CHUNK = 500


def _consented(bank: Bank, party: str, party_id: int) -> bool:
    if party == PartyKind.MERCHANT:
        return MerchantConsent.objects.filter(merchant_id=party_id,
                                              withdrawn_at__isnull=True).exists()
    return has_consent(user_id=party_id, purpose=ConsentPurpose.CREDIT, bank_id=bank.pk)


def profile_compute(*, bank: Bank, party: str, party_id: int, actor=None) -> CreditProfile:
    """Score one party now (on demand)."""
    _in_bank(bank)
    if party == PartyKind.MERCHANT:
        if not Merchant.objects.filter(pk=party_id, bank=bank).exists():
            raise ApplicationError(_("No such merchant of this bank."), code="not_found")
        figures = scoring.merchant_figures([party_id])
    else:
        figures = scoring.buyer_figures([party_id])
        if not figures:
            raise ApplicationError(_("No such customer."), code="not_found")
    consented = {party_id} if _consented(bank, party, party_id) else set()
    with transaction.atomic():
        _upsert(party, figures, consented, policy_get(), run=None,
                actor_id=getattr(actor, "pk", None), purpose="on_demand")
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    return CreditProfile.objects.get(party=party, **{key: party_id})


def _upsert(party: str, figures: dict[int, dict], consented: set[int], policy: LendingPolicy,
            *, run: ScoringRun | None, actor_id: int | None, purpose: str) -> int:
    """Write the profiles of one chunk: one INSERT ... ON CONFLICT DO UPDATE (a profile
    computed at the same moment elsewhere is simply replaced)."""
    now = timezone.now()
    key = "merchant_id" if party == PartyKind.MERCHANT else "user_id"
    profiles, uses = [], []
    for pk, fig in figures.items():
        if pk in consented:
            card = scoring.scorecard(party, fig, policy)
            values = {"consented": True, "score": card.score, "tier": card.tier,
                      "limit": card.limit, "rate": card.rate, "factors": card.factors,
                      "figures": fig}
            uses.append(CreditDataUse(party=party, purpose=purpose, run=run,
                                      actor_id=actor_id, at=now, **{key: pk}))
        else:  # without consent no behaviour data is used: no score, no limit
            values = {"consented": False, "score": None, "tier": Tier.D, "limit": ZERO,
                      "rate": None, "factors": [], "figures": {}}
        profiles.append(CreditProfile(party=party, computed_at=now, **{key: pk}, **values))
    CreditProfile.objects.bulk_create(
        profiles, update_conflicts=True, unique_fields=["party", "merchant_id", "user_id"],
        update_fields=["consented", "score", "tier", "limit", "rate", "factors", "figures",
                       "computed_at"])
    CreditDataUse.objects.bulk_create(uses)
    return len(figures)


def scoring_parties(bank: Bank) -> tuple[list[int], list[int]]:
    """Who is scored: the merchants the bank admitted (approved or suspended), and the
    people who are its credit customers (consented) or were scored before."""
    merchants = list(Merchant.objects.filter(
        bank=bank, status__in=[MerchantStatus.APPROVED, MerchantStatus.SUSPENDED])
        .order_by("pk").values_list("pk", flat=True))
    buyers = consenting_user_ids(purpose=ConsentPurpose.CREDIT, bank_id=bank.pk)
    buyers |= set(CreditProfile.objects.filter(party=PartyKind.BUYER)
                  .values_list("user_id", flat=True))
    return merchants, sorted(buyers)


def scoring_run_start(*, bank: Bank, trigger: str = "nightly", actor=None) -> ScoringRun:
    """Create a run (the caller queues ``lending.tasks.run_scoring`` inside the bank's
    schema). Refused while another run of the same trigger is open."""
    _in_bank(bank)
    try:
        with transaction.atomic():
            return ScoringRun.objects.create(trigger=trigger,
                                             started_by_id=getattr(actor, "pk", None))
    except IntegrityError:
        raise ApplicationError(_("A recomputation is already under way."),
                               code="run_in_progress") from None


def scoring_run_execute(*, bank: Bank, run_id: int) -> ScoringRun:
    """Recompute every profile of the bank, a chunk per transaction, showing progress."""
    _in_bank(bank)
    run = ScoringRun.objects.get(pk=run_id)
    if run.status == ScoringRun.Status.COMPLETED:
        return run
    merchants, buyers = scoring_parties(bank)
    states = ScoringRun.STATES
    ScoringRun.objects.filter(pk=run.pk).update(
        status=states.target(run.status, "start"), started_at=run.started_at or timezone.now(),
        total=len(merchants) + len(buyers), done=0, error="")
    policy = policy_get()
    merchant_ok = set(MerchantConsent.objects.filter(withdrawn_at__isnull=True)
                      .values_list("merchant_id", flat=True))
    buyer_ok = consenting_user_ids(purpose=ConsentPurpose.CREDIT, bank_id=bank.pk)
    now, done = timezone.now(), 0
    try:
        for party, ids, ok, read in (
                (PartyKind.MERCHANT, merchants, merchant_ok, scoring.merchant_figures),
                (PartyKind.BUYER, buyers, buyer_ok, scoring.buyer_figures)):
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                with transaction.atomic():
                    done += _upsert(party, read(chunk, now=now), ok, policy, run=run,
                                    actor_id=run.started_by_id, purpose=f"{run.trigger}_run")
                ScoringRun.objects.filter(pk=run.pk).update(done=done)
    except Exception as exc:
        ScoringRun.objects.filter(pk=run.pk).update(
            status=states.target(ScoringRun.Status.RUNNING, "fail"), error=repr(exc)[:2000])
        raise
    ScoringRun.objects.filter(pk=run.pk).update(
        status=states.target(ScoringRun.Status.RUNNING, "complete"),
        finished_at=timezone.now(), done=done)
    run.refresh_from_db()
    return run
