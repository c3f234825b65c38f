"""What every dashboard read shares: the range of days, rates as percentages, the
latest roll-up, banks by id.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Max, Q

from banks.models import Bank
from federation.models import RollupState

ZERO = Decimal("0.00")
MAX_RANGE_DAYS = 366


def rate(part, whole) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (one decimal), or None when ``whole`` is 0."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _days(start: datetime.date, end: datetime.date):
    return Q(day__gte=start, day__lte=end)


def rollup_freshness() -> dict:
    """The last roll-up: the latest day rolled up and when (for 'figures as of')."""
    agg = RollupState.objects.aggregate(day=Max("day"), at=Max("rolled_up_at"))
    return {"last_day": agg["day"], "rolled_up_at": agg["at"]}


def _banks_by_id(ids) -> dict[int, Bank]:
    return {b.pk: b for b in Bank.objects.filter(pk__in={i for i in ids if i is not None})}
