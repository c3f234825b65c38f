"""Merchant compliance per bank: the shared catalog's statuses and, from each bank's own
schema, its admission files' counts.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count
from django_tenants.utils import schema_context

from admission.selectors import compliance_counts
from banks.models import Bank
from banks.selectors import bank_list_active
from catalog.models import Merchant, MerchantStatus


@dataclass
class ComplianceRow:
    bank: Bank
    admitted: int = 0
    suspended: int = 0
    in_review: int = 0
    rejected: int = 0
    overdue_reviews: int = 0
    expired_licences: int = 0

    @property
    def bank_code(self) -> str:
        return self.bank.code


def merchant_compliance(*, today: datetime.date, bank: Bank | None = None
                        ) -> list[ComplianceRow]:
    """Per bank: merchants admitted, suspended, in review, rejected (the shared catalog),
    and, from the bank's own admission files, admitted merchants whose re-review date has
    passed and open expired-licence flags. The admission files are a bank's private data:
    this enters each bank's schema explicitly, one bank at a time."""
    banks = [bank] if bank is not None else list(bank_list_active())
    status_counts: dict[int, dict[str, int]] = defaultdict(dict)
    for r in (Merchant.objects.filter(bank__in=banks).values("bank_id", "status")
              .annotate(n=Count("pk"))):
        status_counts[r["bank_id"]][r["status"]] = r["n"]
    out = []
    for b in banks:
        counts = status_counts[b.pk]
        with schema_context(b.schema_name):
            private = compliance_counts(bank=b, today=today)
        out.append(ComplianceRow(
            bank=b, admitted=counts.get(MerchantStatus.APPROVED, 0),
            suspended=counts.get(MerchantStatus.SUSPENDED, 0),
            in_review=counts.get(MerchantStatus.APPLIED, 0)
            + counts.get(MerchantStatus.UNDER_REVIEW, 0),
            rejected=counts.get(MerchantStatus.REJECTED, 0),
            overdue_reviews=private["overdue_reviews"],
            expired_licences=private["expired_licences"]))
    return out
