"""Uses of one person's behaviour data: allowed only for a purpose the catalogue lists
(credit: with the person's consent to that bank), and logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ConsentPurpose
from accounts.selectors import has_consent
from core.errors import ApplicationError
from federation import catalogue
from federation.models import DataUse, Event, EventKind
from federation.services._common import local_day


def data_use_log(*, data_kind: str, purpose: str, bank=None, subject_user_id: int | None = None,
                 subject_merchant_id: int | None = None, used_by=None,
                 detail: str = "") -> DataUse:
    """Record one use of personal behaviour data; refused (ApplicationError) when the
    catalogue does not list the purpose for that data, or when a bank would use a
    person's data for credit without that person's consent to that bank."""
    if not catalogue.allows(data_kind, purpose):
        raise ApplicationError(_("The data catalogue does not allow this use of the data."),
                               code="not_in_catalogue")
    if purpose == catalogue.Purpose.CREDIT and subject_user_id is not None and (
            bank is None or not has_consent(user_id=subject_user_id,
                                            purpose=ConsentPurpose.CREDIT, bank_id=bank.pk)):
        raise ApplicationError(
            _("This person has not consented to this bank using their data for credit."),
            code="no_consent")
    return DataUse.objects.create(
        data_kind=data_kind, purpose=purpose, bank=bank, subject_user_id=subject_user_id,
        subject_merchant_id=subject_merchant_id,
        used_by_id=getattr(used_by, "pk", None), detail=detail[:200])


@dataclass(frozen=True)
class BehaviourSummary:
    days: int
    purchases: int
    orders: int
    spent: Decimal
    product_views: int
    active_days: int


def behaviour_for_credit(*, bank, user_id: int, used_by=None, days: int = 180) -> BehaviourSummary:
    """A person's recorded behaviour on the platform over ``days`` (only what was
    recorded under their account, i.e. with their BEHAVIOUR consent), for ``bank``'s
    credit scoring: allowed only with their CREDIT consent to that bank; logged."""
    data_use_log(data_kind="purchase_events", purpose=catalogue.Purpose.CREDIT, bank=bank,
                 subject_user_id=user_id, used_by=used_by,
                 detail=f"behaviour summary, {days} days")
    since = local_day(timezone.now()) - timedelta(days=days)
    figures = Event.objects.filter(user_id=user_id, day__gte=since).aggregate(
        purchases=Count("pk", filter=Q(kind=EventKind.PURCHASE)),
        orders=Count("order_id", distinct=True, filter=Q(kind=EventKind.PURCHASE)),
        spent=Sum("amount", filter=Q(kind=EventKind.PURCHASE)),
        product_views=Count("pk", filter=Q(kind=EventKind.PRODUCT_VIEW)),
        active_days=Count("day", distinct=True))
    return BehaviourSummary(days=days, purchases=figures["purchases"], orders=figures["orders"],
                            spent=figures["spent"] or Decimal("0.00"),
                            product_views=figures["product_views"],
                            active_days=figures["active_days"])
