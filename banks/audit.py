"""A bank's audit trail in one place: who did what, from every app that keeps a trail.

The trails stay where their rows live (the bank's own schema for admission and lending,
the public schema for orders, settlement and the bank's settings), so ``banks`` knows
none of those apps: each registers a *source* when it starts, a function that answers an
``AuditQuery`` with ``AuditEntry`` rows, newest first, at most ``query.limit`` of them.
``audit_trail`` merges them into one list for the console's audit page and its export.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import schema_context

from accounts.models import Segment
from accounts.selectors import user_by_login
from banks.models import Bank, BankEvent, Branch, StaffRole

# What the page filters by: the area of the platform an action belongs to.
AREAS = {
    "staff": _("Staff"),
    "admission": _("Merchant admission"),
    "lending": _("Lending"),
    "orders": _("Orders and refunds"),
    "settlement": _("Settlement"),
    "points": _("Points"),
    "bank": _("Bank settings"),
}


@dataclass(frozen=True)
class AuditQuery:
    bank: Bank
    since: datetime | None = None
    until: datetime | None = None
    actor_id: int | None = None
    area: str = ""
    limit: int = 200


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    area: str
    actor_id: int | None  # None: the platform itself (a scheduled task, an automatic rule)
    action: str  # in the reader's language
    target: str = ""  # what it was done to: "order 2026…", "merchant 某合作社"
    note: str = ""


AuditSource = Callable[[AuditQuery], Iterable[AuditEntry]]
_sources: list[tuple[frozenset[str], AuditSource]] = []


def register_audit_source(areas: Iterable[str], source: AuditSource) -> None:
    entry = (frozenset(areas), source)
    if entry not in _sources:
        _sources.append(entry)


def audit_trail(query: AuditQuery) -> list[AuditEntry]:
    """The newest ``query.limit`` entries of every source that covers ``query.area`` (all
    areas when empty), newest first."""
    with schema_context(query.bank.schema_name):  # the tenant apps' trails are there
        streams = [source(query) for areas, source in _sources
                   if not query.area or query.area in areas]
        merged = heapq.merge(*streams, key=lambda e: e.at, reverse=True)
        return list(itertools.islice(merged, query.limit))


PAGE_LIMIT = 200  # the newest entries the page shows
EXPORT_LIMIT = 10_000  # the newest entries an export holds


def audit_query(*, bank: Bank, area: str = "", person: str = "",
                since: date | None = None, until: date | None = None,
                limit: int = PAGE_LIMIT) -> AuditQuery:
    """The query for what ``person`` (mobile number or username; anyone when empty) did
    on days ``since`` to ``until`` (both included, in the platform's time zone)."""
    actor_id = None
    if person:
        found = user_by_login(person)
        actor_id = found.pk if found is not None else -1  # nobody: nothing matches

    def start_of(day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time.min))

    return AuditQuery(bank=bank, area=area if area in AREAS else "", actor_id=actor_id,
                      since=start_of(since) if since else None,
                      until=start_of(until + timedelta(days=1)) if until else None,
                      limit=limit)


def with_actor_names(entries: list[AuditEntry]) -> list[tuple[AuditEntry, str, str]]:
    """Each entry with the name of who did it and the area's name, for a page or export."""
    users = get_user_model().objects.in_bulk({e.actor_id for e in entries if e.actor_id})
    rows = []
    for entry in entries:
        user = users.get(entry.actor_id) if entry.actor_id else None
        who = (f"{user.shown_name} ({user.username})" if user is not None
               else str(_("The platform")) if entry.actor_id is None else f"#{entry.actor_id}")
        rows.append((entry, who, str(AREAS.get(entry.area, entry.area))))
    return rows


def filter_times(rows, query: AuditQuery, field: str):
    """``rows`` (a queryset) within the query's time range and actor, newest first, cut."""
    if query.since is not None:
        rows = rows.filter(**{f"{field}__gte": query.since})
    if query.until is not None:
        rows = rows.filter(**{f"{field}__lt": query.until})
    return rows.order_by(f"-{field}", "-id")[:query.limit]


# --- the bank's own trail (staff, settings, points programme) -------------------------------

BANK_ACTIONS = {
    "onboarded": ("bank", _("Bank onboarded")),
    "completed": ("bank", _("Onboarding completed")),
    "listing_policy": ("bank", _("Listing review policy changed")),
    "sign_in_unlocked": ("staff", _("Sign-in unlocked")),
    "customer_group_set": ("bank", _("Customer group recorded")),
    "staff_granted": ("staff", _("Role granted")),
    "staff_changed": ("staff", _("Role changed")),
    "staff_revoked": ("staff", _("Role revoked")),
    "points_programme_changed": ("points", _("Points programme changed")),
    "earning_rule_created": ("points", _("Earning rule created")),
    "earning_rule_changed": ("points", _("Earning rule changed")),
    "mall_offer_created": ("points", _("Mall offer created")),
    "mall_offer_changed": ("points", _("Mall offer changed")),
    "redemption_cancelled": ("points", _("Redemption cancelled")),
    "redemption_collected": ("points", _("Redemption handed over")),
    "redemption_paid": ("points", _("Redemption paid in cash")),
}


FEDERATION_ACTIONS = {
    "federation_admin_granted": _("Federation admin granted"),
    "federation_admin_revoked": _("Federation admin revoked"),
}


def register_actions(*, federation: dict | None = None, bank: dict | None = None) -> None:
    """Apps built on banks name their own audit actions (called from AppConfig.ready):
    ``federation``: action -> label; ``bank``: action -> (area, label)."""
    FEDERATION_ACTIONS.update(federation or {})
    BANK_ACTIONS.update(bank or {})


def _bank_events(query: AuditQuery) -> Iterable[AuditEntry]:
    rows = BankEvent.objects.filter(bank=query.bank)
    if query.actor_id is not None:
        rows = rows.filter(actor_id=query.actor_id)
    if query.area:
        rows = rows.filter(action__in=[a for a, (area, _label) in BANK_ACTIONS.items()
                                       if area == query.area])
    for event in filter_times(rows, query, "created_at"):
        area, label = BANK_ACTIONS.get(event.action, ("bank", event.action.replace("_", " ")))
        detail = event.detail or {}
        yield AuditEntry(at=event.created_at, area=area, actor_id=event.actor_id,
                         action=str(label), target=detail.get("note", "")
                         or detail.get("user", ""), note=_changes_text(detail))


# How a change of a staff row reads: field names and values in words, not codes.
_FIELD_NAMES = {"role": _("role"), "branch": _("branch"), "is_active": _("active"),
                "segment": _("customer group")}


def _value_text(name: str, value) -> str:
    if value is None or value == "":
        return "—"
    if name == "role" and value in StaffRole.values:
        return str(StaffRole(value).label)
    if name == "segment" and value in Segment.values:
        return str(Segment(value).label)
    if name == "branch":
        branch = Branch.objects.filter(pk=value).first()
        return branch.name if branch is not None else f"#{value}"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    return str(value)


def _changes_text(detail: dict) -> str:
    changes = detail.get("changes") or {}
    return "; ".join(
        f"{_FIELD_NAMES.get(name, name)}: {_value_text(name, before)} → "
        f"{_value_text(name, after)}"
        for name, (before, after) in changes.items() if name != "bank")


register_audit_source(("staff", "points", "bank"), _bank_events)
