"""Celery entry points of the inbox: a notification's text message (retried while the
SMS gateway fails) and the daily instalment and points reminders of every bank."""

from __future__ import annotations

import logging

from celery import shared_task

from banks.models import Bank
from notifications import receivers, reminders, services

log = logging.getLogger(__name__)


@shared_task(name="notifications.tasks.send_text", autoretry_for=(Exception,),
             retry_backoff=10, retry_backoff_max=900, max_retries=8, ignore_result=True)
def send_text(notification_id: int) -> bool:
    return services.notification_text_send(notification_id=notification_id)


@shared_task(name="notifications.tasks.instalment_reminders")
def instalment_reminders() -> int:
    """Daily: every bank's borrowers whose instalment is due within three days or
    overdue, each bank's schedules read inside its own schema."""
    written = 0
    for bank in Bank.objects.filter(is_active=True).exclude(schema_name="public"):
        try:
            written += reminders.instalment_reminders(bank=bank)
        except Exception:
            log.exception("instalment reminders of %s failed", bank.code)
    return written


@shared_task(name="notifications.tasks.points_expiry_reminders")
def points_expiry_reminders() -> int:
    """Daily: every bank's customers whose points expire within a month."""
    written = 0
    for bank in Bank.objects.filter(is_active=True).exclude(schema_name="public"):
        try:
            written += reminders.points_expiry_reminders(bank=bank)
        except Exception:
            log.exception("points reminders of %s failed", bank.code)
    return written


@shared_task(name="notifications.tasks.recall_notices", autoretry_for=(Exception,),
             retry_backoff=10, max_retries=5, ignore_result=True)
def recall_notices(recall_id: int) -> int:
    """Tell the buyers of a recall's held orders (written once each: safe to retry)."""
    return receivers.deliver_recall_notices(recall_id)
