"""Reads of the inbox, always of the signed-in person's own rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404

from banks.models import StaffMembership, StaffRole
from catalog.models import MerchantMember
from notifications.models import BY_TEXT_DEFAULT, Kind, Notification, Preference

SHOPPER_KINDS = [Kind.ORDER_PAID, Kind.ORDER_SHIPPED, Kind.PICKUP_READY,
                 Kind.ORDER_DELIVERED, Kind.REFUND_DECIDED, Kind.FINANCING_DECIDED,
                 Kind.INSTALMENT_DUE, Kind.INSTALMENT_OVERDUE]
MERCHANT_KINDS = [Kind.NEW_ORDER, Kind.REFUND_REQUESTED, Kind.ADMISSION_DECIDED]
OFFICER_KINDS = [Kind.APPLICATION_SUBMITTED]


def inbox_of(*, user) -> QuerySet[Notification]:
    return (Notification.objects.filter(user=user).select_related("bank")
            .order_by("-created_at", "-id"))


def unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_of(*, user, notification_id) -> Notification:
    """The person's own notification; anyone else's (or none) is 404."""
    row = (Notification.objects.select_related("bank")
           .filter(pk=notification_id, user=user).first())
    if row is None:
        raise Http404
    return row


def kinds_for(*, user) -> list[str]:
    """The kinds that can reach this person: a shopper's, and a merchant's or a credit
    officer's if they are one."""
    kinds: list[str] = list(SHOPPER_KINDS)
    if MerchantMember.objects.filter(user=user).exists():
        kinds += MERCHANT_KINDS
    if StaffMembership.objects.filter(user=user, role=StaffRole.CREDIT_OFFICER,
                                      is_active=True).exists():
        kinds += OFFICER_KINDS
    return kinds


@dataclass(frozen=True)
class PreferenceView:
    kind: str
    label: str
    by_text: bool


def preferences_of(*, user) -> list[PreferenceView]:
    chosen = dict(Preference.objects.filter(user=user).values_list("kind", "by_text"))
    return [PreferenceView(kind=k, label=str(Kind(k).label),
                           by_text=chosen.get(k, BY_TEXT_DEFAULT.get(k, False)))
            for k in kinds_for(user=user)]
