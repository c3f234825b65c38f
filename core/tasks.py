from celery import shared_task

from core.health import record_heartbeat


@shared_task(name="core.tasks.heartbeat", ignore_result=True)
def heartbeat() -> float:
    """Scheduled by beat every few seconds; /healthz reads its age to report the worker."""
    return record_heartbeat()
