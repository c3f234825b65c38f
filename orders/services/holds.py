"""Holds on orders' money (``Order.held_reason``): set and lifted set-based, one UPDATE and
one INSERT ... SELECT of history rows, however many orders; settlement pays no held order.
Who decides to hold (a recall) is an outer app that passes the orders as a subquery."""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderHold


def _insert_events(order_ids: QuerySet, *, kind: str, actor, note: str, detail: dict,
                   at) -> int:
    """One history row per order of ``order_ids`` (a values("…") queryset of ids), written
    by one INSERT ... SELECT. Bulk: the per-row post_save receivers do not run; the
    caller sends its own signal for the people to tell."""
    sql, params = order_ids.query.sql_with_params()
    table = OrderEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (order_id, kind, actor_id, note, detail, at) "  # noqa: S608
            f"SELECT ids.id, %s, %s, %s, %s::jsonb, %s FROM ({sql}) AS ids(id)",
            [kind, getattr(actor, "pk", None), note[:300], json.dumps(detail), at, *params])
        return cursor.rowcount


@transaction.atomic
def orders_hold(*, order_ids: QuerySet, reason: str, actor, note: str = "",
                detail: dict | None = None) -> int:
    """Hold the money of the orders ``order_ids`` (a queryset of one id column) for
    ``reason`` (an ``OrderHold``), with a history row of kind ``reason`` on each. Returns
    how many orders were held."""
    if reason not in OrderHold.values:
        raise ValueError(f"unknown hold {reason!r}")
    now = timezone.now()
    held = Order.objects.filter(pk__in=order_ids).update(
        held_reason=reason, held_at=Coalesce("held_at", now))
    _insert_events(order_ids, kind=reason, actor=actor, note=note, detail=detail or {},
                   at=now)
    return held


@transaction.atomic
def orders_release(*, order_ids: QuerySet, actor, note: str = "",
                   detail: dict | None = None) -> int:
    """Lift the holds of ``order_ids``: the next settlement run pays them."""
    now = timezone.now()
    released = Order.objects.filter(pk__in=order_ids).exclude(held_reason="").update(
        held_reason="", held_at=None)
    _insert_events(order_ids, kind="hold_released", actor=actor, note=note,
                   detail=detail or {}, at=now)
    return released
