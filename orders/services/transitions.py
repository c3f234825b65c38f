"""The order state machine (declared as ``Order.STATES``) and the one function that applies it
(every status change of an order goes through ``_transition``)."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from core.writes import Change, register_audit, transition
from orders.hooks import order_completed, send_on_commit
from orders.models import Fulfilment, Order, OrderEvent, OrderStatus

S = OrderStatus
# The table is declared on the model (Order.STATES); BACK (None): the status before the
# refund request.
ORDER_TRANSITIONS = Order.STATES.table


def order_allowed_actions(order: Order) -> list[str]:
    allowed = [a for a, (sources, _to) in ORDER_TRANSITIONS.items() if order.status in sources]
    wrong_kind = "ready_for_pickup" if order.fulfilment == Fulfilment.DELIVERY else "ship"
    return [a for a in allowed if a != wrong_kind]


def _transition(order: Order, action: str, *, actor=None, note: str = "",
                detail: dict | None = None, at: datetime | None = None) -> Order:
    """Apply one transition to a row the caller has locked; record it in the history."""
    back_to = None
    if action == "request_refund":
        order.status_before_refund = order.status
    elif ORDER_TRANSITIONS[action][1] is None:  # back to the status before the request
        back_to, order.status_before_refund = order.status_before_refund, ""
    elif action == "refund_full":
        order.status_before_refund = ""
    change = transition(
        order, action, actor=actor, note=note, detail=detail, at=at, back_to=back_to,
        message=_("Order %(number)s is “%(status)s”: it cannot be %(action)s.")
        % {"number": order.number, "status": order.get_status_display(),
           "action": _ACTION_LABELS.get(action, action)})
    if change.after == OrderStatus.COMPLETED:
        send_on_commit(order_completed, order=order)
    return order


def _history_event(change: Change) -> None:
    """The order's history is its audit: one ``OrderEvent`` per transition."""
    OrderEvent.objects.create(order=change.row, kind=change.action, actor_id=change.actor_id,
                              note=change.note, detail=dict(change.detail), at=change.at)


register_audit(Order, _history_event)


def register_in_order_history(model, *, kinds: dict[str, str], detail_key: str) -> None:
    """The steps of a row that belongs to an order (a return, an invoice request) are
    audited in the order's history: one ``OrderEvent`` named by ``kinds`` (action ->
    kind), with the row's id under ``detail_key``."""
    def write(change: Change) -> None:
        row = change.row
        OrderEvent.objects.create(order_id=row.order_id, kind=kinds[change.action],
                                  actor_id=change.actor_id, note=change.note,
                                  detail={detail_key: row.pk, **change.detail},
                                  at=change.at)

    register_audit(model, write)


_ACTION_LABELS = {  # completes "it cannot be ...", in the page's language
    "pay": pgettext_lazy("order action", "paid"),
    "cancel": pgettext_lazy("order action", "cancelled"),
    "ship": pgettext_lazy("order action", "shipped"),
    "ready_for_pickup": pgettext_lazy("order action", "made ready for pickup"),
    "deliver": pgettext_lazy("order action", "marked delivered"),
    "pick_up": pgettext_lazy("order action", "picked up"),
    "confirm_receipt": pgettext_lazy("order action", "confirmed as received"),
    "request_refund": pgettext_lazy("order action", "refunded"),
    "refund_full": pgettext_lazy("order action", "refunded"),
    "refund_partial": pgettext_lazy("order action", "refunded"),
    "reject_refund": pgettext_lazy("order action", "refused a refund"),
}


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)
