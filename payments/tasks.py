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
    """Beat: the day's run over every bank (or the stuck one, queued again)."""
    from payments.settlement import settlement_run_daily

    run = settlement_run_daily()
    if run is None:
        return None
    run_settlement.delay(run.pk)
    return run.pk
