"""An order's history as every audience reads it: the buyer's, the shop's and the bank
staff's pages and the API show the same events under the same labels, and the bank's
audit page (``banks.audit``) lists what its staff did to orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils.translation import gettext_lazy

from banks.audit import AuditEntry, filter_times
from orders.models import Order, OrderEvent

# What each order event is called on the buyer's, the merchant's and the staff's pages.
ORDER_EVENT_LABELS = {
    "placed": gettext_lazy("Order placed"),
    "pay": gettext_lazy("Paid"),
    "cancel": gettext_lazy("Cancelled"),
    "ship": gettext_lazy("Shipped"),
    "tracking": gettext_lazy("Tracking"),
    "deliver": gettext_lazy("Delivered"),
    "ready_for_pickup": gettext_lazy("Ready for pickup"),
    "pick_up": gettext_lazy("Picked up at the branch"),
    "confirm_receipt": gettext_lazy("Receipt confirmed"),
    "request_refund": gettext_lazy("Refund requested"),
    "refund_full": gettext_lazy("Refunded in full"),
    "refund_partial": gettext_lazy("Partly refunded"),
    "reject_refund": gettext_lazy("Refund refused"),
    "dispute": gettext_lazy("Dispute raised: the bank steps in"),
    "return_requested": gettext_lazy("Return requested"),
    "return_approved": gettext_lazy("Return approved"),
    "return_refused": gettext_lazy("Return refused"),
    "return_withdrawn": gettext_lazy("Return withdrawn"),
    "return_shipped_back": gettext_lazy("Goods sent back"),
    "return_received": gettext_lazy("Returned goods received"),
    "return_refunded": gettext_lazy("Return refunded"),
    "return_lapsed": gettext_lazy("Return closed: not sent back in time"),
    "review": gettext_lazy("Reviewed"),
    "review_edit": gettext_lazy("Review edited"),
    "review_reply": gettext_lazy("Shop replied to the review"),
    "review_hide": gettext_lazy("Review hidden by the bank"),
    "review_unhide": gettext_lazy("Review shown again"),
    "invoice_requested": gettext_lazy("Invoice requested"),
    "invoice_withdrawn": gettext_lazy("Invoice request withdrawn"),
    "invoice_issued": gettext_lazy("Invoice issued"),
    "invoice_rejected": gettext_lazy("Invoice refused"),
    "recall": gettext_lazy("Goods recalled: money held"),
    "hold_released": gettext_lazy("Hold on the money lifted"),
}


def audit_entries(query) -> list:
    """What the bank's own staff did to orders (refunds decided or issued, orders
    handled at a branch desk, pickups handed over), for its audit page
    (``banks.audit``): events of orders of its merchants or picked up at its branches,
    made by someone on its staff."""
    rows = (OrderEvent.objects.select_related("order")
            .filter(Q(order__merchant__bank=query.bank)
                    | Q(order__pickup_branch__bank=query.bank),
                    actor__staff_membership__bank=query.bank)
            .exclude(kind="tracking"))
    if query.actor_id is not None:
        rows = rows.filter(actor_id=query.actor_id)
    return [AuditEntry(at=e.at, area="orders", actor_id=e.actor_id,
                       action=event_label(e.kind),
                       target=e.order.number, note=e.note)
            for e in filter_times(rows, query, "at")]


def event_label(kind: str) -> str:
    return str(ORDER_EVENT_LABELS.get(kind, kind))


@dataclass(frozen=True)
class HistoryEntry:
    """One step of an order's history, as pages and the API show it."""

    kind: str
    label: str
    note: str
    at: datetime
    location: str = ""  # a tracking event's place
    carrier: str = ""  # shipped: the carrier and the waybill
    tracking_number: str = ""
    amount: str = ""  # refunds and returns: the amount, in yuan


def order_history(order: Order) -> list[HistoryEntry]:
    """The order's events, oldest first (prefetched ``events`` are used as they are)."""
    entries = []
    for event in order.events.all():
        detail = event.detail or {}
        entries.append(HistoryEntry(
            kind=event.kind, label=event_label(event.kind), note=event.note, at=event.at,
            location=str(detail.get("location") or ""),
            carrier=str(detail.get("carrier") or ""),
            tracking_number=str(detail.get("tracking_number") or ""),
            amount=str(detail.get("amount") or "")))
    return entries
