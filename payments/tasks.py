"""Scheduled payment work (the beat schedule is in config/settings.py)."""

from celery import shared_task

from payments import services


@shared_task
def expire_reservations() -> int:
    return services.expire_reservations()


@shared_task
def reconcile_payments() -> int:
    return services.reconcile_payments()


@shared_task
def run_settlement(run_id: int) -> dict:
    """Execute (or resume) one settlement run; progress is on the run's row."""
    from payments.settlement import settlement_run_execute

    run = settlement_run_execute(run_id)
    return {"run": run.pk, "status": run.status, "orders": run.orders_done}


@shared_task
def settle_daily() -> int | None:
    """Beat: the day's run over every bank, orders completed before the cut-off."""
    from core.errors import ApplicationError
    from payments.models import RunStatus, SettlementRun
    from payments.settlement import default_cutoff, settlement_run_start

    try:
        run = settlement_run_start(cutoff=default_cutoff())
    except ApplicationError:
        # A run is still waiting or running (or its worker died): queue it again. A run
        # is resumable and safe to execute twice at once, so this is never harmful.
        run = SettlementRun.objects.filter(
            bank__isnull=True, status__in=[RunStatus.PENDING, RunStatus.RUNNING]).first()
        if run is None:
            return None
    run_settlement.delay(run.pk)
    return run.pk
