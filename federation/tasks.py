"""Celery entry points of the traffic data (schedules in config/schedule.py)."""

from datetime import date

from celery import shared_task

from federation import services


@shared_task(ignore_result=True)
def events_flush() -> int:
    return services.events_flush().events


@shared_task(ignore_result=True)
def rollup_recent() -> int:
    return services.rollup_recent()


@shared_task
def rollup_day(day: str) -> int:
    return services.rollup_day(date.fromisoformat(day))


@shared_task(ignore_result=True)
def retention_enforce() -> dict:
    return services.retention_enforce()
