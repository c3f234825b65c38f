"""The points ledger: the balance, earning into lots, expiry, spending oldest expiry
first and restoring to the lots a spending came from.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from core.errors import ApplicationError
from rewards.models import EntryKind, LotUse, PointsEntry, PointsLot
from rewards.services._common import _add_months, _in_bank
from rewards.services.programme import programme_of


def balance(*, user_id: int) -> int:
    return PointsEntry.objects.filter(user_id=user_id).aggregate(
        s=Sum("points"))["s"] or 0


def _earn(*, bank: Bank, user_id: int, points: int, reference: str, note: str,
          on: date | None = None) -> PointsEntry | None:
    if points <= 0:
        return None
    _programme, rules = programme_of(bank)
    try:
        with transaction.atomic():
            entry = PointsEntry.objects.create(user_id=user_id, kind=EntryKind.EARNED,
                                               points=points, reference=reference,
                                               note=note[:120], at=timezone.now())
    except IntegrityError:
        return None  # earned already
    start = on or timezone.localdate()
    PointsLot.objects.create(user_id=user_id, earned=entry, points=points, remaining=points,
                             expires_on=_add_months(start, rules.expiry_months))
    return entry


def _expire_lots(lots) -> int:
    expired = 0
    for lot in lots:
        if lot.remaining <= 0:
            continue
        PointsEntry.objects.create(user_id=lot.user_id, kind=EntryKind.EXPIRED,
                                   points=-lot.remaining, reference=f"expire:{lot.pk}",
                                   note=str(lot.expires_on), at=timezone.now())
        expired += lot.remaining
        lot.remaining = 0
        lot.save(update_fields=["remaining"])
    return expired


@transaction.atomic
def points_expire(*, bank: Bank, as_of: date | None = None) -> int:
    """The daily task: every lot past its expiry date loses what is left of it."""
    _in_bank(bank)
    as_of = as_of or timezone.localdate()
    lots = PointsLot.objects.select_for_update().filter(expires_on__lt=as_of, remaining__gt=0)
    return _expire_lots(lots.order_by("pk"))


def _spend(*, user_id: int, points: int, reference: str, note: str,
           as_of: date | None = None) -> PointsEntry:
    """Take ``points`` from the customer's lots, oldest expiry first (inside the
    caller's transaction; lots locked)."""
    if points <= 0:
        raise ValidationError({"points": [_("Spend at least one point.")]})
    as_of = as_of or timezone.localdate()
    lots = list(PointsLot.objects.select_for_update().filter(user_id=user_id, remaining__gt=0)
                .order_by("expires_on", "pk"))
    _expire_lots([lot for lot in lots if lot.expires_on < as_of])
    live = [lot for lot in lots if lot.expires_on >= as_of]
    if sum(lot.remaining for lot in live) < points:
        raise ApplicationError(_("Not enough points: you have %(have)s, this needs %(need)s.")
                               % {"have": sum(lot.remaining for lot in live), "need": points},
                               code="not_enough_points")
    entry = PointsEntry.objects.create(user_id=user_id, kind=EntryKind.SPENT, points=-points,
                                       reference=reference, note=note[:120], at=timezone.now())
    left = points
    for lot in live:
        take = min(left, lot.remaining)
        if take == 0:
            break
        lot.remaining -= take
        lot.save(update_fields=["remaining"])
        LotUse.objects.create(spent=entry, lot=lot, points=take)
        left -= take
    return entry


def _restore(*, spent: PointsEntry, points: int, reference: str,
             as_of: date | None = None) -> int:
    """Give back up to ``points`` of a spending to the lots it came from, except lots
    that have expired meanwhile (those points are gone). Returns what was restored."""
    as_of = as_of or timezone.localdate()
    left, restored = points, 0
    for use in spent.uses.select_for_update().select_related("lot").order_by("-lot__expires_on"):
        if left <= 0:
            break
        back = min(left, use.points - use.restored)
        left -= back
        if back <= 0 or use.lot.expires_on < as_of:
            continue
        PointsLot.objects.filter(pk=use.lot_id).update(remaining=F("remaining") + back)
        LotUse.objects.filter(pk=use.pk).update(restored=F("restored") + back)
        restored += back
    if restored:
        PointsEntry.objects.create(user_id=spent.user_id, kind=EntryKind.RESTORED,
                                   points=restored, reference=reference,
                                   note=(spent.note or spent.reference)[:120],
                                   at=timezone.now())
    return restored
