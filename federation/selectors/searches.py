"""Searches that found nothing."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Max
from django.db.models.functions import Lower

from banks.models import Bank
from federation.models import Event, EventKind


@dataclass
class UnfoundQuery:
    query: str
    searches: int
    last_day: datetime.date


def searches_without_results(*, start: datetime.date, end: datetime.date,
                             bank: Bank | None = None, limit: int = 30) -> list[UnfoundQuery]:
    """The queries most often searched in these days that found no product matching every
    word: all storefronts and the portal, or one bank's storefront (``bank``). Read from
    the raw search events (the one read here that is not a roll-up: a GROUP BY over the
    days' search rows, on the (day, kind) index); searches recorded before the result
    count was kept are left out."""
    qs = Event.objects.filter(kind=EventKind.SEARCH, day__gte=start, day__lte=end,
                              results=0)
    if bank is not None:
        qs = qs.filter(storefront_bank=bank)
    rows = (qs.annotate(q=Lower("query")).values("q")
            .annotate(n=Count("id"), last=Max("day")).order_by("-n", "q")[:limit])
    return [UnfoundQuery(query=r["q"], searches=r["n"], last_day=r["last"]) for r in rows]
