"""Instalments due soon and overdue, and points about to expire: daily scans of each
bank's loan schedules and points lots (read only, in the bank's schema, entered
explicitly) that notify the person once per instalment and reminder, or per expiry date,
however often they run."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from banks.models import Bank
from catalog.models import MerchantMember
from lending.models import LoanStatus, PartyKind, ScheduleLine
from notifications.models import Kind, Notification
from notifications.services import notify, page_path
from rewards.models import PointsLot

DUE_SOON_DAYS = 3
POINTS_NOTICE_DAYS = 30  # points expiring within this many days are announced once
OPEN = (LoanStatus.ACTIVE, LoanStatus.OVERDUE)


def _open_lines(**filters) -> list[ScheduleLine]:
    return list(ScheduleLine.objects.filter(
        loan__status__in=OPEN, paid_at__isnull=True, principal_paid__lt=F("principal"),
        **filters).select_related("loan").order_by("due_date", "pk"))


def instalment_reminders(*, bank: Bank, today: date | None = None) -> int:
    """Notify the borrowers of ``bank`` whose instalment falls due within
    ``DUE_SOON_DAYS`` days or is past due and unpaid. Returns the rows written."""
    today = today or timezone.localdate()
    with schema_context(bank.schema_name):
        soon = _open_lines(due_date__gt=today,
                           due_date__lte=today + timedelta(days=DUE_SOON_DAYS))
        overdue = _open_lines(due_date__lt=today)
    plan = ([(line, Kind.INSTALMENT_DUE, f"instalment-due:{bank.schema_name}:{line.pk}")
             for line in soon]
            + [(line, Kind.INSTALMENT_OVERDUE,
                f"instalment-overdue:{bank.schema_name}:{line.pk}") for line in overdue])
    # What earlier runs wrote already, in one query (the unique key guards the rest).
    done = set(Notification.objects.filter(dedupe_key__in=[k for _l, _k, k in plan])
               .values_list("dedupe_key", flat=True))
    written = 0
    users = get_user_model().objects
    for line, kind, key in plan:
        if key in done:
            continue
        loan = line.loan
        if loan.party == PartyKind.MERCHANT:
            recipients = [m.user for m in MerchantMember.objects.filter(
                merchant_id=loan.merchant_id).select_related("user")]
            link = page_path("merchant_lending:loan", merchant_id=loan.merchant_id,
                             loan_id=loan.pk)
        else:
            recipients = list(users.filter(pk=loan.user_id))
            link = page_path("lending:loan", loan.pk)
        owed = line.unpaid_principal + max(
            line.interest - line.interest_paid, 0)

        def compose(line=line, loan=loan, kind=kind, owed=owed):
            values = {"seq": line.seq, "number": loan.number, "amount": owed,
                      "date": line.due_date.isoformat(), "bank": bank.name}
            if kind == Kind.INSTALMENT_DUE:
                return _("Instalment due soon"), _(
                    "Instalment %(seq)s of loan %(number)s at %(bank)s, %(amount)s yuan, "
                    "is due on %(date)s.") % values
            return _("Instalment overdue"), _(
                "Instalment %(seq)s of loan %(number)s at %(bank)s was due on %(date)s "
                "and is unpaid; penalty interest accrues until it is repaid.") % values
        written += len(notify(recipients=recipients, kind=kind, dedupe_key=key,
                              compose=compose, link=link, bank=bank))
    return written


def points_expiry_reminders(*, bank: Bank, today: date | None = None) -> int:
    """Tell the customers of ``bank`` whose points expire within POINTS_NOTICE_DAYS how
    many and when, once per customer and expiry date. Returns the rows written."""
    today = today or timezone.localdate()
    with schema_context(bank.schema_name):
        due = list(PointsLot.objects.filter(
            remaining__gt=0, expires_on__gt=today,
            expires_on__lte=today + timedelta(days=POINTS_NOTICE_DAYS))
            .values("user_id", "expires_on").annotate(points=Sum("remaining"))
            .order_by("expires_on", "user_id"))
    plan = [(row, f"points-expiring:{bank.schema_name}:{row['user_id']}:"
                  f"{row['expires_on'].isoformat()}") for row in due]
    done = set(Notification.objects.filter(dedupe_key__in=[k for _r, k in plan])
               .values_list("dedupe_key", flat=True))
    people = get_user_model().objects.in_bulk([row["user_id"] for row, key in plan
                                               if key not in done])
    link = page_path("rewards:home")
    written = 0
    for row, key in plan:
        person = people.get(row["user_id"])
        if key in done or person is None:
            continue

        def compose(row=row):
            return _("Points about to expire"), _(
                "%(points)s of your points at %(bank)s expire on %(date)s: spend them in "
                "the points mall or on your next order.") % {
                "points": row["points"], "bank": bank.name,
                "date": row["expires_on"].isoformat()}
        written += len(notify(recipients=[person], kind=Kind.POINTS_EXPIRING,
                              dedupe_key=key, compose=compose, link=link, bank=bank))
    return written
