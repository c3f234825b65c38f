"""Reads of a bank's points programme, in the schema of the bank whose domain this is."""

from __future__ import annotations

from django.db.models import Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from catalog.models import Sku
from rewards.models import (
    EarningRule,
    MallOffer,
    OfferTake,
    PointsEntry,
    PointsLot,
    PointsProgramme,
    Redemption,
    RedemptionStatus,
)


def programme_current() -> PointsProgramme | None:
    """The points programme of the bank whose schema the connection is in."""
    return PointsProgramme.objects.order_by("pk").first()


def history_of(*, user_id: int) -> QuerySet[PointsEntry]:
    return PointsEntry.objects.filter(user_id=user_id).order_by("-at", "-id")


def expiring_next(*, user_id: int) -> dict | None:
    """The earliest date some of the customer's points expire, and how many then."""
    today = timezone.localdate()
    lots = PointsLot.objects.filter(user_id=user_id, remaining__gt=0, expires_on__gte=today)
    first = lots.order_by("expires_on").values_list("expires_on", flat=True).first()
    if first is None:
        return None
    points = lots.filter(expires_on=first).aggregate(s=Sum("remaining"))["s"] or 0
    return {"on": first, "points": points}


def offers_open(*, user=None) -> list[MallOffer]:
    """Offers open now (or flash ones about to open), those for other customer groups
    left out; each with ``left`` and, for a signed-in customer, ``taken``."""
    now = timezone.now()
    rows = list(MallOffer.objects.filter(is_active=True, ends_at__gt=now)
                .filter(Q(starts_at__lte=now) | Q(is_flash=True)))
    segment = getattr(user, "segment", "") if user is not None else ""
    rows = [o for o in rows if not o.segments or segment in o.segments]
    taken = {}
    if user is not None and getattr(user, "is_authenticated", False):
        taken = dict(OfferTake.objects.filter(user_id=user.pk, offer__in=rows)
                     .values_list("offer_id", "quantity"))
    skus = Sku.objects.select_related("product__merchant").in_bulk({o.sku_id for o in rows})
    for o in rows:
        o.sku = skus.get(o.sku_id)
        o.left = o.quantity - o.redeemed
        o.is_open = o.starts_at <= now
        o.taken = taken.get(o.pk, 0)
    return rows


def offer_get(*, offer_id: int, user=None) -> MallOffer:
    """An offer the customer may see (404 for another group's or a closed one)."""
    for o in offers_open(user=user):
        if o.pk == offer_id:
            return o
    raise Http404


def redemptions_of(*, user_id: int) -> QuerySet[Redemption]:
    return Redemption.objects.filter(user_id=user_id).select_related("offer")


def redemption_of(*, user_id: int, redemption_id: int) -> Redemption:
    row = redemptions_of(user_id=user_id).filter(pk=redemption_id).first()
    if row is None:
        raise Http404
    return row


def redemptions_waiting(*, branch_id: int | None = None) -> QuerySet[Redemption]:
    rows = Redemption.objects.filter(status__in=[RedemptionStatus.READY,
                                                 RedemptionStatus.AWAITING_CASH])
    if branch_id:
        rows = rows.filter(branch_id=branch_id)
    return rows.select_related("offer").order_by("created_at", "id")


def earning_rules() -> QuerySet[EarningRule]:
    return EarningRule.objects.order_by("-is_active", "name", "id")
