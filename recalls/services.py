"""Opening and closing recalls. Every write of the app is here.

Opening (one transaction): the batches are flagged recalled, their products delisted
through the catalog's own transition (search and page caches follow), every affected
order is recorded and its money held (set-based: one INSERT ... SELECT and one UPDATE
whatever the number of orders), the opening is audited, and the buyers are told after
the commit. Checkout refuses a recalled product from then on (it reads the batch flag).

Affected orders: order lines do not record which batch their goods came from, so an
order is affected when it holds a product of a recalled batch and was paid on or after
that batch's harvest (production) date, local time, and is not cancelled or refunded in
full. That takes in orders served from another lot of the same product in that time: a
hold too many is undone by the closing, a payout too many is not.

Closing: ``refund_all`` refunds every held order's refundable amount through the one
refund path (gateway and ledger), each order in its own transaction (a failure leaves the
recall open, and closing again continues with the orders not refunded yet); ``release``
refunds nothing. Both then lift the holds (except those another open recall still has)
and the batch flags, and record who decided. Products stay delisted: the merchant lists
them again (a new batch, a new lab report) through the usual listing path.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from banks.services import bank_audit, register_bank_audit
from catalog.models import Batch, Product, ProductStatus, Sku
from catalog.services import batches_set_recalled, product_transition
from core.errors import ApplicationError
from core.writes import transition
from orders import services as orders
from orders.models import (
    REFUNDABLE,
    Order,
    OrderHold,
    OrderLine,
    OrderStatus,
    Refund,
    RefundStatus,
)
from recalls.models import Recall, RecallOrder, RecallResolution, RecallStatus
from recalls.signals import recall_opened, send_on_commit

MAX_BATCHES = 100
# Orders in these statuses hold no money to stop.
NOT_AFFECTED = (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, OrderStatus.REFUNDED)


def _batch_ids(raw) -> list[int]:
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
        raise ValidationError({"batches": [_("Choose the batches to recall.")]})
    ids: list[int] = []
    for value in raw:
        text = str(value).strip()
        if not text.isdigit() or len(text) > 18:
            raise ValidationError({"batches": [_("“%(v)s” is not a batch.") % {"v": text[:20]}]})
        ids.append(int(text))
    ids = sorted(set(ids))
    if not ids:
        raise ValidationError({"batches": [_("Choose the batches to recall.")]})
    if len(ids) > MAX_BATCHES:
        raise ValidationError({"batches": [_("At most %(n)d batches in one recall.")
                                           % {"n": MAX_BATCHES}]})
    return ids


def _batches_for(*, bank: Bank | None, ids: list[int]) -> list[Batch]:
    """The batches, locked in id order. A batch that does not exist is a 400 naming it;
    one of another bank's merchant is a 404 to a bank's staff (as if it did not exist)."""
    found = list(Batch.objects.select_for_update(of=("self",))
                 .select_related("product__merchant").filter(pk__in=ids).order_by("pk"))
    missing = sorted(set(ids) - {b.pk for b in found})
    if missing:
        raise ValidationError({"batches": [_("No such batch: %(ids)s.")
                                           % {"ids": ", ".join(map(str, missing))}]})
    if bank is not None and any(b.product.merchant.bank_id != bank.pk for b in found):
        raise Http404
    return found


def _insert_affected(recall: Recall, batch_ids: list[int]) -> int:
    """Record the recall's orders in one INSERT ... SELECT (see the module's note)."""
    o, line, sku, batch = (m._meta.db_table for m in (Order, OrderLine, Sku, Batch))
    sql = (
        f"INSERT INTO {RecallOrder._meta.db_table} (recall_id, order_id) "  # noqa: S608
        f"SELECT DISTINCT %s, o.id FROM {o} o "
        f"JOIN {line} l ON l.order_id = o.id "
        f"JOIN {sku} s ON s.id = l.sku_id "
        f"JOIN (SELECT product_id, min(harvest_date) AS since FROM {batch} "
        "      WHERE id = ANY(%s) GROUP BY product_id) b ON b.product_id = s.product_id "
        "WHERE o.paid_at >= (b.since::timestamp AT TIME ZONE %s) "
        "AND o.status <> ALL(%s) AND o.refunded_total < o.total "
        "ON CONFLICT DO NOTHING")
    with connection.cursor() as cursor:
        cursor.execute(sql, [recall.pk, batch_ids, settings.TIME_ZONE,
                             [str(s) for s in NOT_AFFECTED]])
        return cursor.rowcount


def _number() -> str:
    return f"RC{timezone.localtime():%Y%m%d}{secrets.randbelow(10**6):06d}"


@transaction.atomic
def recall_open(*, actor, bank: Bank | None, batch_ids, reason: str) -> Recall:
    """Open a recall of ``batch_ids``: by ``bank``'s staff (its own merchants' batches
    only) or, with ``bank`` None, by a federation admin (any batch). See the module's
    note for what it does."""
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why the batches are recalled.")]
    try:
        ids = _batch_ids(batch_ids)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    batches = _batches_for(bank=bank, ids=ids)
    now = timezone.now()
    recall = Recall.objects.create(number=_number(), bank=bank, reason=reason[:300],
                                   opened_by=actor, opened_at=now)
    recall.batches.set(batches)
    batches_set_recalled(batch_ids=ids, recalled=True)
    product_ids = sorted({b.product_id for b in batches})
    for product in Product.objects.filter(
            pk__in=product_ids, status__in=[ProductStatus.LISTED, ProductStatus.PENDING_REVIEW]
    ).order_by("pk"):
        product_transition(product=product, action="delist",
                           reason=_("Recalled: %(reason)s") % {"reason": reason[:200]})
    _insert_affected(recall, ids)
    recall.orders_held = orders.orders_hold(
        order_ids=RecallOrder.objects.filter(recall=recall).values("order_id"),
        reason=OrderHold.RECALL, actor=actor, note=reason,
        detail={"recall": recall.number, "recall_id": recall.pk})
    recall.save(update_fields=["orders_held"])
    bank_audit(bank=bank, actor=actor, action="recall_opened", target=recall,
               note=f"{recall.number}: {reason}")
    send_on_commit(recall_opened, recall_id=recall.pk)
    return recall


register_bank_audit(Recall, action="recall_{after}")


def _locked_open(recall: Recall) -> Recall:
    recall = Recall.objects.select_for_update().get(pk=recall.pk)
    if recall.status != RecallStatus.OPEN:
        raise ApplicationError(_("This recall is already closed."), code="illegal_transition")
    return recall


def _refund_held(recall: Recall, actor) -> int:
    """Refund what is left of each held order, one order per transaction; returns how
    many orders were refunded now."""
    done = 0
    order_ids = list(RecallOrder.objects.filter(recall=recall).order_by("order_id")
                     .values_list("order_id", flat=True))
    note = _("Recall %(number)s: refunded in full") % {"number": recall.number}
    for order_id in order_ids:
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order_id)
            if order.refundable <= 0:
                continue
            if order.status == OrderStatus.REFUND_REQUESTED:
                pending = (Refund.objects.filter(order=order, status=RefundStatus.REQUESTED)
                           .order_by("pk").first())
                if pending is not None:
                    orders.refund_decide(refund=pending, actor=actor, approve=True, note=note)
                    order.refresh_from_db()
            if order.refundable > 0 and order.status in REFUNDABLE:
                orders.refund_issue(order=order, actor=actor, amount=order.refundable,
                                    reason=note)
            done += 1
    return done


def recall_close(*, recall: Recall, actor, resolution: str, note: str = "") -> Recall:
    """Close an open recall with ``resolution`` (see the module's note). Closing a closed
    recall is a 400 and changes nothing."""
    if resolution not in RecallResolution.values:
        raise ValidationError({"resolution": [_("Choose refund_all or release.")]})
    with transaction.atomic():
        _locked_open(recall)  # refused before any refund
    refunded = _refund_held(recall, actor) if resolution == RecallResolution.REFUND_ALL else 0
    with transaction.atomic():
        recall = _locked_open(recall)
        others = Recall.objects.filter(status=RecallStatus.OPEN).exclude(pk=recall.pk)
        still_held = RecallOrder.objects.filter(recall__in=others, order_id=OuterRef("order_id"))
        orders.orders_release(
            order_ids=RecallOrder.objects.filter(recall=recall).filter(~Exists(still_held))
            .values("order_id"),
            actor=actor, note=(note or "").strip() or _("Recall %(number)s closed")
            % {"number": recall.number},
            detail={"recall": recall.number, "resolution": resolution})
        batch_ids = list(recall.batches.exclude(recalls__in=others).values_list("pk", flat=True))
        batches_set_recalled(batch_ids=batch_ids, recalled=False)
        recall.resolution = resolution
        recall.resolution_note = (note or "").strip()[:300]
        recall.closed_by = actor
        recall.closed_at = timezone.now()
        recall.orders_refunded = recall.orders_refunded + refunded
        transition(recall, "close", actor=actor, note=f"{recall.number}: {resolution}",
                   at=recall.closed_at)
    return recall
