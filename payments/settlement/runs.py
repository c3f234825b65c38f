"""Settlement runs: started (by a bank's admin or the daily schedule), resumed, and executed
chunk by chunk, then each bank's payout batch and reconciliation."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from core.errors import ApplicationError
from core.writes import recorded_by_the_row, transition
from payments.models import LedgerAccount, RunStatus, SettlementRun

from .chunks import record_holds, settle_chunk, settleable_orders
from .payouts import payout_batch_build
from .statements import reconciliation

log = logging.getLogger(__name__)


def default_cutoff(now: datetime | None = None) -> datetime:
    """Orders completed before today's cut-off time (local) are settled."""
    now = timezone.localtime(now or timezone.now())
    hour, minute = (int(x) for x in settings.SETTLEMENT_CUTOFF.split(":"))
    cutoff = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return cutoff if cutoff <= now else cutoff - timedelta(days=1)


def settlement_run_start(*, bank: Bank | None = None, cutoff: datetime | None = None,
                         actor=None) -> SettlementRun:
    """Create a run (the caller queues ``payments.tasks.run_settlement``). Refused while
    another run of the same scope is waiting or running, and for a cut-off in the future
    (orders completed later would be settled before they are)."""
    now = timezone.now()
    if cutoff is not None and cutoff > now:
        raise ApplicationError(_("The cut-off cannot be in the future."), field="cutoff",
                               code="cutoff_in_future")
    cutoff = cutoff or now
    try:
        with transaction.atomic():
            return SettlementRun.objects.create(bank=bank, cutoff=cutoff, started_by=actor)
    except IntegrityError:
        raise ApplicationError(_("A settlement run is already under way."),
                               code="run_in_progress") from None


RESUMABLE = (RunStatus.RUNNING, RunStatus.FAILED)


def settlement_run_resume(*, bank: Bank, run: SettlementRun) -> SettlementRun:
    """Queue again, after commit, a run of ``bank`` whose worker died or that failed: it
    continues where it stopped (settling is per order and exactly once, so running it
    twice is harmless). Refused for a run over every bank and for a run that is waiting,
    completed, or of another bank."""
    if run.bank_id != bank.pk or run.status not in RESUMABLE:
        raise ApplicationError(_("Only a stopped or failed run of our bank can be resumed."),
                               code="not_resumable")
    from payments.tasks import run_settlement  # late: payments.tasks imports this package

    transaction.on_commit(lambda: run_settlement.delay(run.pk))
    return run


UNDER_WAY = (RunStatus.PENDING, RunStatus.RUNNING)


def settlement_runs_daily() -> list[SettlementRun]:
    """The scheduled settlement, one run per active bank (orders completed before today's
    cut-off), to be executed in parallel. A bank whose run is still waiting or running
    (or whose worker died) gets that run back, to be queued again: a run is resumable and
    safe to execute twice at once. So does a run over every bank still under way."""
    cutoff = default_cutoff()
    runs = list(SettlementRun.objects.filter(bank__isnull=True, status__in=UNDER_WAY))
    for bank in Bank.objects.filter(is_active=True).order_by("pk"):
        try:
            runs.append(settlement_run_start(bank=bank, cutoff=cutoff))
        except ApplicationError:
            run = SettlementRun.objects.filter(bank=bank, status__in=UNDER_WAY).first()
            if run is not None:
                runs.append(run)
    return runs


def settlement_run_execute(run_id: int) -> SettlementRun:
    """Settle every order of the run, chunk by chunk, then build each bank's payout
    batch. Safe to call again after a crash or on a run that failed: it continues where
    it stopped."""
    with transaction.atomic():
        run = SettlementRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.COMPLETED:
            return run
        run.started_at = run.started_at or timezone.now()
        run.error = ""
        done = run.items.count()
        run.orders_total = done + settleable_orders(run).count()
        run.orders_done = done
        transition(run, "start", audit=recorded_by_the_row)
        record_holds(run)
    # The ledger accounts this call has used, looked up once: an account row never changes
    # or goes away. One that a chunk's transaction created is safe to reuse too: if that
    # transaction rolls back, the error ends this call, and the cache with it.
    accounts: dict[tuple, LedgerAccount] = {}
    try:
        last: int | None = 0
        while last is not None:
            last = settle_chunk(run=run, after=last, accounts=accounts)
        banks = (Bank.objects.filter(pk=run.bank_id) if run.bank_id
                 else Bank.objects.filter(is_active=True))
        for bank in banks.order_by("pk"):
            payout_batch_build(run=run, bank=bank)
        report = {str(bank.pk): reconciliation(bank=bank, run=run) for bank in banks}
    except Exception as exc:
        SettlementRun.objects.filter(pk=run.pk).update(
            status=SettlementRun.STATES.target(RunStatus.RUNNING, "fail"),
            error=repr(exc)[:2000])
        raise
    flagged = [code for code, r in report.items() if not r["ok"]]
    if flagged:
        log.error("settlement run %s: reconciliation mismatches at banks %s", run.pk,
                  flagged)
    SettlementRun.objects.filter(pk=run.pk).update(
        status=SettlementRun.STATES.target(RunStatus.RUNNING, "complete"),
        finished_at=timezone.now(), reconciliation=report, orders_done=run.items.count())
    run.refresh_from_db()
    return run
