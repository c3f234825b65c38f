"""Reads of recalls, scoped: a bank's staff see the recalls of their bank's merchants'
batches (whoever opened them); the federation sees every recall."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.shortcuts import get_object_or_404

from banks.models import Bank
from catalog.models import Batch
from recalls.models import Recall


def _with_batches(qs: QuerySet[Recall]) -> QuerySet[Recall]:
    return qs.select_related("bank", "opened_by", "closed_by").prefetch_related(
        "batches__product__merchant")


def recalls_for_bank(*, bank: Bank) -> QuerySet[Recall]:
    ours = Batch.objects.filter(recalls=OuterRef("pk"), product__merchant__bank=bank)
    return _with_batches(Recall.objects.filter(Exists(ours)))


def recall_for_bank(*, bank: Bank, recall_id: int) -> Recall:
    return get_object_or_404(recalls_for_bank(bank=bank), pk=recall_id)


def recall_closable_by_bank(*, bank: Bank, recall_id: int) -> Recall:
    """A bank closes only the recalls it opened (the federation's are the federation's)."""
    return get_object_or_404(recalls_for_bank(bank=bank).filter(bank=bank), pk=recall_id)


def recalls_all() -> QuerySet[Recall]:
    return _with_batches(Recall.objects.all())


def recall_get(*, recall_id: int) -> Recall:
    return get_object_or_404(recalls_all(), pk=recall_id)


def batches_for_bank(*, bank: Bank | None) -> QuerySet[Batch]:
    """The batches a recall may name: its merchants' (every batch for the federation)."""
    qs = Batch.objects.select_related("product__merchant").order_by("-harvest_date", "-id")
    return qs if bank is None else qs.filter(product__merchant__bank=bank)
