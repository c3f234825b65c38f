"""Food-safety reads: which products are recalled, which lack the passing lab report
their bank's policy asks for, and a batch's lab reports."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from catalog.models import Batch, LabReport, Product


def recalled_product_ids(product_ids: Iterable[int]) -> set[int]:
    """Those of ``product_ids`` with a batch an open recall covers (one query)."""
    return set(Batch.objects.filter(product_id__in=list(product_ids),
                                    recalled_at__isnull=False)
               .values_list("product_id", flat=True).distinct())


def products_without_passing_report(product_ids: Iterable[int]) -> set[int]:
    """Those of ``product_ids`` whose merchant's bank sells only lots with a passing lab
    report, and whose newest batch (the lot on sale) has none, or that have no batch at
    all (one query)."""
    newest = (Batch.objects.filter(product_id=OuterRef("pk"))
              .order_by("-harvest_date", "-id").values("pk")[:1])
    passing = LabReport.objects.filter(batch_id=OuterRef("newest_batch"), passed=True)
    return set(Product.objects.filter(pk__in=list(product_ids),
                                      merchant__bank__requires_passing_lab_report=True)
               .alias(newest_batch=newest)
               .exclude(Exists(passing)).values_list("pk", flat=True))


def recalled_expression(product_ref: str = "pk") -> Exists:
    """True where the product (``product_ref``: a path to its id from the query's model)
    has a recalled batch: to annotate a query that is made anyway."""
    return Exists(Batch.objects.filter(product_id=OuterRef(product_ref),
                                       recalled_at__isnull=False))


def passing_report_expression(product_ref: str = "pk") -> Exists:
    """True where the product's newest batch (the lot on sale) has a passing report."""
    newest = (Batch.objects.filter(product_id=OuterRef(OuterRef(product_ref)))
              .order_by("-harvest_date", "-id").values("pk")[:1])
    return Exists(LabReport.objects.filter(batch_id=Subquery(newest), passed=True))


def lab_reports_prefetch() -> Prefetch:
    return Prefetch("lab_reports",
                    queryset=LabReport.objects.prefetch_related("results"))


def batch_lab_reports(*, batch: Batch) -> QuerySet[LabReport]:
    return batch.lab_reports.prefetch_related("results")
