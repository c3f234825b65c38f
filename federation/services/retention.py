"""Retention: what the data catalogue says is past its time is deleted."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone

from federation import catalogue
from federation.models import DataUse, Event, EventBatch, RollupState
from federation.services._common import day_bounds, local_day
from federation.services.rollups import ROLLUP_LOCK, ROLLUP_MODELS


def retention_enforce(*, today: date | None = None, chunk_days: int = 7) -> dict[str, int]:
    """Delete what the data catalogue says is past its time: raw events by kind, roll-ups,
    the data-use log. Events go in slices of ``chunk_days`` days (short transactions)."""
    today = today or local_day(timezone.now())
    deleted: dict[str, int] = {}
    by_days: dict[int, list[str]] = {}
    for kind, days in catalogue.event_retention().items():
        by_days.setdefault(days, []).append(kind)
    for days, kinds in sorted(by_days.items()):
        cutoff = today - timedelta(days=days)
        oldest = Event.objects.filter(kind__in=kinds, day__lt=cutoff).order_by("day").values_list(
            "day", flat=True).first()
        count = 0
        while oldest is not None and oldest < cutoff:
            upto = min(cutoff, oldest + timedelta(days=chunk_days))
            with transaction.atomic():
                count += Event.objects.filter(kind__in=kinds, day__gte=oldest,
                                              day__lt=upto).delete()[0]
            oldest = upto
        for kind in kinds:
            deleted[f"event:{kind}"] = 0
        deleted[f"events:{days}d"] = count
    rollup_days = catalogue.BY_KEY["daily_rollups"].retention_days
    cutoff = today - timedelta(days=rollup_days)
    with transaction.atomic():
        with connection.cursor() as cursor:  # the roll-up's lock: product spans change
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", ROLLUP_LOCK)
        deleted["rollups"] = sum(model.objects.filter(day__lt=cutoff).delete()[0]
                                 for model in ROLLUP_MODELS)
        RollupState.objects.filter(day__lt=cutoff).delete()
    # a batch name is needed only until its in-flight list is gone (seconds)
    EventBatch.objects.filter(written_at__lt=timezone.now() - timedelta(days=7)).delete()
    log_days = catalogue.BY_KEY["data_use_log"].retention_days
    deleted["data_uses"] = DataUse.objects.filter(
        at__lt=day_bounds(today - timedelta(days=log_days))[0]).delete()[0]
    return {k: v for k, v in deleted.items() if not k.startswith("event:")}
