"""Celery entry points of partner platforms: webhook deliveries (the first attempt, queued
when the event is recorded; the retries, found by the sweep every minute)."""

from __future__ import annotations

from celery import shared_task

from partners import webhooks


@shared_task(name="partners.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    return webhooks.delivery_attempt(delivery_id=delivery_id).status


@shared_task(name="partners.tasks.deliver_due_webhooks", ignore_result=True)
def deliver_due_webhooks() -> int:
    """Every minute: the deliveries whose retry is due, each its own task."""
    due = webhooks.deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
