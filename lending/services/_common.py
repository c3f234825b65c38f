"""What every lending service shares: the schema guard, today, the audit event."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from banks.models import Bank
from lending.models import Application, LendingEvent, Loan
from payments.models import AccountKind

ZERO = Decimal("0.00")
K = AccountKind


def _in_bank(bank: Bank) -> None:
    if connection.schema_name != bank.schema_name:
        raise RuntimeError(f"lending for {bank.code} must run in its schema "
                           f"(now in {connection.schema_name})")


def _today() -> date:
    return timezone.localdate()


def _event(*, action: str, actor_id: int | None, application: Application | None = None,
           loan: Loan | None = None, from_status: str = "", to_status: str = "",
           note: str = "", detail: dict | None = None) -> None:
    LendingEvent.objects.create(application=application, loan=loan, action=action,
                                from_status=from_status, to_status=to_status,
                                actor_id=actor_id, note=note[:300], detail=detail or {},
                                at=timezone.now())
