"""The one way a service moves a stateful row: lock, check, write, audit, then effects.

Every service that changes a status calls ``transition`` inside its transaction, on a row
it locked (``lock``)::

    order = lock(order)
    transition(order, "ship", actor=user, note=waybill,
               message=_("This order cannot be shipped now."),
               after_commit=[lambda: notify_shipped(order.pk)])

``transition`` checks the model's declared machine (``Model.STATES``, core.states), sets
the status, saves the row, writes one audit event through the writer the model's app
registered (``register_audit``: who, which bank, which object, which action, the status
before and after, a note and details) and schedules the after-commit effects. An illegal
move raises ``IllegalTransition`` (HTTP 400, ``illegal_transition``) before anything is
written. The audit rows stay in the table of the row's tenancy (a bank's private decisions
in the bank's schema, shared ones in the public schema; see docs/architecture.md, "Audit"),
but every one of them is written here, in one shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from django.db import connection, models, transaction
from django.utils import timezone

from core.states import IllegalTransition, StateMachine

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class Change:
    """One status change, as the audit writer receives it."""

    row: models.Model
    action: str
    before: str
    after: str
    actor: Any = None  # the acting user, or None: the platform itself
    actor_id: int | None = None
    bank: Any = None  # the bank it happened in, when the row does not say
    note: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=timezone.now)


AuditWriter = Callable[[Change], object]
_writers: dict[type[models.Model], AuditWriter] = {}


def register_audit(model: type[models.Model], writer: AuditWriter) -> None:
    """``writer`` records every ``transition`` of ``model``'s rows (the model's app calls
    this next to its services)."""
    _writers[model] = writer


def registered_audit(model: type[models.Model]) -> AuditWriter:
    """The writer ``model``'s app registered (for a call that audits elsewhere but falls
    back to it)."""
    return _writers[model]


def lock(row: M, *, related: Iterable[str] = ()) -> M:
    """The row again, locked ``FOR UPDATE`` until the transaction ends (only the row's own
    table when ``related`` rows are read with it)."""
    manager = type(row)._default_manager
    query = manager.select_for_update(of=("self",)) if related else manager.select_for_update()
    if related:
        query = query.select_related(*related)
    return query.get(pk=row.pk)


def require(row: models.Model, action: str, *, message=None) -> None:
    """Refuse (``IllegalTransition``) at once when the row's status does not allow
    ``action``: for a service that checks the state before the input it validates."""
    machine: StateMachine = type(row).STATES  # type: ignore[attr-defined]
    if not machine.can(getattr(row, machine.field) or "", action):
        raise IllegalTransition(message)


def transition(row: models.Model, action: str, *, actor=None, actor_id: int | None = None,
               bank=None, note: str = "", detail: Mapping[str, Any] | None = None, message=None,
               back_to: str | None = None, save_fields: Iterable[str] | None = None,
               audit: AuditWriter | None = None, at: datetime | None = None,
               after_commit: Iterable[Callable[[], object]] = ()) -> Change:
    """Apply ``action`` of the row's declared machine to a row the caller has locked.

    ``message``: the refusal the user reads when the status does not allow the action.
    ``back_to``: the target of a transition declared BACK (the status it returns to).
    ``save_fields``: the other fields the caller set on the row with this change (None:
    save the whole row). ``audit``: a writer for this call instead of the model's.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("transition() must run inside the service's transaction")
    machine: StateMachine = type(row).STATES  # type: ignore[attr-defined]
    before = getattr(row, machine.field) or ""
    require(row, action, message=message)
    after = machine.target(before, action)
    if after is None:
        if back_to is None or back_to not in machine.returns_to:
            raise ValueError(f"{action} returns to a status the caller must give "
                             f"(one of {machine.returns_to}), not {back_to!r}")
        after = back_to
    setattr(row, machine.field, after)
    if save_fields is None:
        row.save()
    else:
        row.save(update_fields=[machine.field, *save_fields])
    if actor_id is None and actor is not None:
        actor_id = actor.pk
    change = Change(row=row, action=action, before=before, after=after, actor=actor,
                    actor_id=actor_id, bank=bank, note=(note or "").strip()[:300],
                    detail=dict(detail or {}), at=at or timezone.now())
    writer = audit or _writers.get(type(row))
    if writer is None:
        raise RuntimeError(f"no audit writer is registered for {type(row).__name__}")
    writer(change)
    for effect in after_commit:
        transaction.on_commit(effect)
    return change


def recorded_by_the_row(change: Change) -> None:
    """For the attempt rows of the one charging path and of the platform's own runs (a card
    payment, a loan repayment, a gateway refund, a payout line, a settlement run, a webhook
    delivery): the row is its own record (who started it and when, the gateway's reference
    and answer, the run's progress) and the money it moved is in the ledger, so the change
    writes no second event."""
