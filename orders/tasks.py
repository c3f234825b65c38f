"""Scheduled order work (the beat schedule is in config/schedule.py)."""

from celery import shared_task

from orders import services


@shared_task
def auto_confirm_orders() -> int:
    return services.orders_auto_confirm()


@shared_task
def time_out_returns() -> dict[str, int]:
    return services.returns_time_out()
