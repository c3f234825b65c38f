"""Lab reports of batches (检测报告): who tested what, with each item's result; and the
recall flag a batch carries while a recall covers it."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from catalog.models import Batch, LabReport, LabResult
from core import uploads

MAX_RESULTS = 50


def _date(value) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    try:
        return parse_date(str(value or "").strip())
    except ValueError:
        return None


def _passed(value) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "合格", "是"}:
        return True
    if text in {"0", "false", "no", "不合格", "否"}:
        return False
    return None


@transaction.atomic
def lab_report_add(*, batch: Batch, lab_name: str, tested_on, tested_by: str = "",
                   results: Iterable[dict] = (), report_file=None) -> LabReport:
    """Record a lab's test of ``batch``. ``results``: rows of ``item``, ``value``,
    ``unit``, ``limit`` and ``passed``; at least one. The report passes when every row
    does. A bad field is a ValidationError naming it, and nothing is written."""
    errors: dict[str, list[str]] = {}
    lab_name = (lab_name or "").strip()
    if not lab_name:
        errors["lab_name"] = [_("Enter the laboratory.")]
    day = _date(tested_on)
    if day is None:
        errors["tested_on"] = [_("Enter the test date as YYYY-MM-DD.")]
    elif day > timezone.localdate():
        errors["tested_on"] = [_("The test date cannot be in the future.")]
    elif day < batch.harvest_date:
        errors["tested_on"] = [_("The test date cannot be before the harvest date.")]
    rows: list[LabResult] = []
    results = list(results or [])
    if not results:
        errors["results"] = [_("Add at least one result.")]
    elif len(results) > MAX_RESULTS:
        errors["results"] = [_("At most %(n)d results.") % {"n": MAX_RESULTS}]
    for n, row in enumerate(results if len(results) <= MAX_RESULTS else [], start=1):
        row = row if isinstance(row, dict) else {}
        item = str(row.get("item") or "").strip()
        value = str(row.get("value") or "").strip()
        passed = _passed(row.get("passed", ""))
        if not item or not value or passed is None:
            errors.setdefault("results", []).append(
                _("Result %(n)d needs an item, a value and whether it passed.") % {"n": n})
            continue
        rows.append(LabResult(item=item[:60], value=value[:30],
                              unit=str(row.get("unit") or "").strip()[:20],
                              limit=str(row.get("limit") or "").strip()[:30], passed=passed))
    if errors:
        raise ValidationError(errors)
    report = LabReport.objects.create(batch=batch, lab_name=lab_name[:100], tested_on=day,
                                      tested_by=(tested_by or "").strip()[:60],
                                      passed=all(r.passed for r in rows))
    for row in rows:
        row.report = report
    LabResult.objects.bulk_create(rows)
    if report_file:
        uploads.attach(report, "report_file", report_file)
    return report


@transaction.atomic
def batches_set_recalled(*, batch_ids: Iterable[int], recalled: bool) -> int:
    """Flag (or unflag) batches as recalled, in one statement; the product pages change
    through the delisting the caller does. Returns the number of batches changed."""
    ids = list(batch_ids)
    if recalled:
        return Batch.objects.filter(pk__in=ids, recalled_at__isnull=True).update(
            recalled_at=timezone.now())
    return Batch.objects.filter(pk__in=ids, recalled_at__isnull=False).update(recalled_at=None)
