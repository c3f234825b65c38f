"""Scheduled lending work. Per-bank tasks run in the schema of the bank they were queued
for (tenant-schemas-celery); the beat entries queue one per active bank."""

from celery import shared_task
from django.db import connection
from django_tenants.utils import schema_context

from banks.models import Bank
from core.errors import ApplicationError
from lending import services
from lending.models import ScoringRun


def _bank():
    """The bank whose schema this task runs in (queued inside it)."""
    return Bank.objects.get(schema_name=connection.schema_name)


def _each_bank(task) -> int:
    count = 0
    for bank in Bank.objects.filter(is_active=True).only("schema_name"):
        with schema_context(bank.schema_name):
            task.delay()
        count += 1
    return count


@shared_task(name="lending.tasks.run_scoring")
def run_scoring(run_id: int) -> dict:
    """Execute one scoring run of the bank whose schema this is; progress on the run."""
    run = services.scoring_run_execute(bank=_bank(), run_id=run_id)
    return {"run": run.pk, "status": run.status, "done": run.done}


@shared_task(name="lending.tasks.score_bank_nightly")
def score_bank_nightly() -> int | None:
    try:
        run = services.scoring_run_start(bank=_bank(), trigger="nightly")
    except ApplicationError:  # last night's is still open: resume it
        run = ScoringRun.objects.filter(trigger="nightly", status__in=["pending", "running"]
                                        ).first()
        if run is None:
            return None
    run_scoring.delay(run.pk)
    return run.pk


@shared_task(name="lending.tasks.age_bank_loans")
def age_bank_loans() -> int:
    return services.loans_age(bank=_bank())


@shared_task(name="lending.tasks.score_all_banks")
def score_all_banks() -> int:
    """Nightly: recompute every bank's profiles, each inside that bank's schema."""
    return _each_bank(score_bank_nightly)


@shared_task(name="lending.tasks.age_all_banks")
def age_all_banks() -> int:
    """Daily: penalty interest and delinquency buckets in every bank."""
    return _each_bank(age_bank_loans)


@shared_task(name="lending.tasks.reconcile_bank_repayments")
def reconcile_bank_repayments() -> int:
    return services.loan_repayments_reconcile(bank=_bank())


@shared_task(name="lending.tasks.reconcile_all_banks")
def reconcile_all_banks() -> int:
    """Every few minutes: card repayments whose gateway answer was lost."""
    return _each_bank(reconcile_bank_repayments)


@shared_task(name="lending.tasks.margin_check_bank")
def margin_check_bank() -> int:
    return services.pledge_margin_check(bank=_bank())


@shared_task(name="lending.tasks.margin_check_all_banks")
def margin_check_all_banks() -> int:
    """Daily: each bank's pledge loans re-valued; margin calls into the officers' queue."""
    return _each_bank(margin_check_bank)
