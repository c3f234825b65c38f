"""Batches and traceability: a product's harvest batches, their inputs and reports."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Batch, Product
from core import uploads

INPUT_KINDS = ("fertiliser", "pesticide", "feed", "veterinary", "other")
# What a merchant may type for each kind (the code, or its Chinese name).
INPUT_KIND_NAMES = {"肥料": "fertiliser", "农药": "pesticide", "饲料": "feed",
                    "兽药": "veterinary", "其他": "other"}


@transaction.atomic
def batch_create(*, product: Product, code: str, harvest_date, farm: str, plot: str = "",
                 inputs: Iterable[dict] = (), lab_report: str = "",
                 inspection_report: str = "", report_file=None) -> Batch:
    errors: dict[str, list[str]] = {}
    code = (code or "").strip()
    if not code:
        errors["code"] = [_("Enter the batch code.")]
    elif Batch.objects.filter(product=product, code=code).exists():
        errors["code"] = [_("This product already has a batch with this code.")]
    if harvest_date is None:
        errors["harvest_date"] = [_("Enter the harvest or production date.")]
    elif harvest_date > timezone.localdate():
        errors["harvest_date"] = [_("The harvest date cannot be in the future.")]
    if not (farm or "").strip():
        errors["farm"] = [_("Enter the farm.")]
    clean_inputs = []
    for item in inputs:
        kind, name = item.get("kind", ""), (item.get("name") or "").strip()
        kind = INPUT_KIND_NAMES.get(kind, kind)
        if kind not in INPUT_KINDS or not name:
            errors.setdefault("inputs", []).append(
                _("Each input needs a kind (肥料, 农药, 饲料, 兽药 or 其他) and a name."))
            continue
        clean_inputs.append({"kind": kind, "name": name,
                             "date": str(item.get("date") or ""),
                             "amount": str(item.get("amount") or "")})
    if errors:
        raise ValidationError(errors)
    batch = Batch.objects.create(product=product, code=code, harvest_date=harvest_date,
                                 farm=farm.strip(), plot=(plot or "").strip(),
                                 inputs=clean_inputs, lab_report=(lab_report or "").strip(),
                                 inspection_report=(inspection_report or "").strip())
    if report_file:
        uploads.attach(batch, "report_file", report_file)
    return batch


@transaction.atomic
def batch_set_report(*, batch: Batch, report_file) -> Batch:
    """Attach (or replace) a batch's report document."""
    if not report_file:
        raise ValidationError({"report_file": [_("Choose a file.")]})
    uploads.attach(batch, "report_file", report_file)
    return batch
