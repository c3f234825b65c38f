"""Scheduled payment work (the beat schedule is in config/schedule.py)."""

from celery import group, shared_task

from payments import services
from payments.settlement import settlement_run_execute, settlement_runs_daily


@shared_task
def expire_reservations() -> int:
    return services.expire_reservations()


@shared_task
def reconcile_payments() -> int:
    return services.reconcile_payments()


@shared_task
def run_settlement(run_id: int) -> dict:
    """Execute (or resume) one settlement run; progress is on the run's row."""
    run = settlement_run_execute(run_id)
    return {"run": run.pk, "status": run.status, "orders": run.orders_done}


@shared_task
def settle_daily() -> list[int]:
    """Beat: the day's settlement fanned out, one task per bank (a Celery group), so the
    banks settle in parallel on as many worker processes as there are. A bank's run still
    waiting or running (its worker died) is queued again instead of a new one."""
    ids = [run.pk for run in settlement_runs_daily()]
    if ids:
        queue_runs(ids)
    return ids


def queue_runs(run_ids: list[int], **options):
    """One ``run_settlement`` task per run, queued together (``options``: Celery's
    ``apply_async`` options, a queue for instance); returns the group's result."""
    return group(run_settlement.s(run_id) for run_id in run_ids).apply_async(**options)
