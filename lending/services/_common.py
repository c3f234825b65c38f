"""What every lending service shares: the schema guard, today, the audit event and the two
state machines' transitions (applications and loans, through ``core.writes.transition``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from core.writes import Change, register_audit, transition
from lending.models import (
    Application,
    ApplicationStatus,
    LendingEvent,
    Loan,
    LoanStatus,
    MarginCall,
)
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


def _lending_event(change: Change) -> None:
    """Every transition of an application, a loan or a loan's margin call (on its loan)."""
    row = change.row
    action = change.action
    if isinstance(row, MarginCall):
        row, action = row.loan, f"margin_call_{action}"
    LendingEvent.objects.create(
        application=row if isinstance(row, Application) else None,
        loan=row if isinstance(row, Loan) else None, action=action,
        from_status=change.before, to_status=change.after, actor_id=change.actor_id,
        note=change.note, detail=dict(change.detail), at=change.at)


register_audit(Application, _lending_event)
register_audit(Loan, _lending_event)
register_audit(MarginCall, _lending_event)


def _app_transition(app: Application, action: str, *, actor_id: int | None,
                    note: str = "") -> Application:
    if Application.STATES.table[action][1] in (ApplicationStatus.APPROVED,
                                                ApplicationStatus.REJECTED):
        app.decided_at, app.decided_by_id = timezone.now(), actor_id
    transition(app, action, actor_id=actor_id, note=note, message=_(
        "This application cannot be %(action)s now (it is %(status)s).")
        % {"action": action.replace("_", " "), "status": app.get_status_display()})
    return app


def _loan_transition(loan: Loan, action: str, *, actor_id: int | None, note: str = "",
                     detail: dict | None = None) -> Loan:
    if Loan.STATES.table[action][1] in (LoanStatus.REPAID, LoanStatus.WRITTEN_OFF):
        loan.closed_at = timezone.now()
    transition(loan, action, actor_id=actor_id, note=note, detail=detail, message=_(
        "This loan cannot be %(action)s now (it is %(status)s).")
        % {"action": action.replace("_", " "), "status": loan.get_status_display()})
    return loan
