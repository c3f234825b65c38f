"""Scheduled payment work (the beat schedule is in config/settings.py)."""

from celery import shared_task

from payments import services


@shared_task
def expire_reservations() -> int:
    return services.expire_reservations()


@shared_task
def reconcile_payments() -> int:
    return services.reconcile_payments()
