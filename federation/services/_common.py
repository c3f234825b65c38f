"""Local days: the platform's time zone, the day of an instant and a day's bounds."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from django.conf import settings


def local_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_day(at: datetime) -> date:
    return at.astimezone(local_zone()).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first instant of the local day and of the next one."""
    start = datetime.combine(day, time.min, tzinfo=local_zone())
    return start, start + timedelta(days=1)
