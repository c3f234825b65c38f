"""Helpers shared by the points services: the schema check, dates and rounding, and the
bounds the console's settings are checked against.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from django.db import connection
from django.utils.translation import gettext as _

from banks.models import Bank


def _in_bank(bank: Bank) -> None:
    if connection.schema_name != bank.schema_name:
        raise RuntimeError(f"rewards of {bank.code} must run in its schema "
                           f"(now in {connection.schema_name})")


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _bounded(errors: dict, field: str, value, low, high) -> None:
    if value is None:
        errors[field] = [_("This field is required.")]
    elif value < low or value > high:
        errors[field] = [_("Enter a value from %(low)s to %(high)s.")
                         % {"low": low, "high": high}]


FIRST_YEAR, LAST_YEAR = 2000, 2099


def _window_ok(errors: dict, starts_at, ends_at) -> None:
    for field, when in (("starts_at", starts_at), ("ends_at", ends_at)):
        if when is not None and not FIRST_YEAR <= when.year <= LAST_YEAR:
            errors[field] = [_("Enter a date from %(first)s to %(last)s.")
                             % {"first": FIRST_YEAR, "last": LAST_YEAR}]
    if errors.keys() & {"starts_at", "ends_at"}:
        return
    if starts_at and ends_at and ends_at <= starts_at:
        errors["ends_at"] = [_("The end must be after the start.")]
