"""From the platform's events to the inbox: receivers of the history rows other apps
write (``orders.OrderEvent``, ``lending.LendingEvent``, ``admission.DossierEvent``).

A receiver only registers a callback for after the action's transaction commits (a
rolled-back action notifies no one); the callback reads what it needs and calls
``services.notify`` with a key per event and audience, so a signal sent twice, or a
callback run again, writes one row per person. Nothing here may break or hold up the
action: receivers and callbacks log their errors and never raise.
"""

from __future__ import annotations

import logging
from functools import partial

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from admission.models import DossierEvent
from banks.models import Bank, StaffMembership, StaffRole
from catalog.models import Merchant, MerchantMember
from lending.models import LendingEvent, PartyKind
from notifications.models import Kind
from notifications.services import notify, page_path
from orders.models import AssistedOrder, Fulfilment, MessageSide, OrderEvent, OrderMessage
from recalls.models import Recall, RecallOrder

log = logging.getLogger(__name__)

ORDER_ACTIONS = {"pay", "ship", "ready_for_pickup", "deliver", "refund_full",
                 "refund_partial", "reject_refund", "request_refund",
                 "return_requested", "return_shipped_back", "return_approved",
                 "return_refused", "return_lapsed", "invoice_requested", "invoice_issued",
                 "invoice_rejected", "dispute"}
APPLICATION_DECISIONS = {"approve", "approve_second", "reject", "auto_approve",
                         "auto_reject"}
ADMISSION_DECISIONS = {"approve", "reject", "suspend", "reinstate"}


def _safely(deliver, *args) -> None:
    try:
        deliver(*args)
    except Exception:
        log.exception("notification of %s%r failed", deliver.__name__, args)


def _after_commit(deliver, *args) -> None:
    try:
        transaction.on_commit(partial(_safely, deliver, *args), robust=True)
    except Exception:
        log.exception("could not schedule %s%r", deliver.__name__, args)


def _members(merchant_id: int) -> list:
    return [m.user for m in MerchantMember.objects.filter(merchant_id=merchant_id)
            .select_related("user").order_by("pk")]


# --- orders ---------------------------------------------------------------------------------


def order_event_saved(sender, instance: OrderEvent, created: bool, **kwargs) -> None:
    if created and instance.kind in ORDER_ACTIONS:
        _after_commit(deliver_order_event, instance.pk)


def order_message_saved(sender, instance: OrderMessage, created: bool, **kwargs) -> None:
    if created:
        _after_commit(deliver_order_message, instance.pk)


def deliver_order_message(message_id: int) -> None:
    """A message in an order's thread reaches the other side: the buyer, or the shop's
    members (but not the one who wrote it); a message of the bank's staff reaches both."""
    message = (OrderMessage.objects.select_related(
        "order__checkout__storefront_bank", "order__merchant__bank", "order__buyer")
        .filter(pk=message_id).first())
    if message is None:
        return
    order, key = message.order, f"order-message:{message.pk}"
    excerpt = message.body if len(message.body) <= 60 else message.body[:59] + "…"

    def compose():
        who = {MessageSide.BUYER: _("The buyer"), MessageSide.SHOP: order.merchant.name,
               MessageSide.BANK: _("The bank's staff")}[message.side]
        return _("New message about order %(number)s") % {"number": order.number}, _(
            "%(who)s wrote: %(text)s") % {"who": who, "text": excerpt}

    if message.side != MessageSide.BUYER:
        notify(recipients=[order.buyer], kind=Kind.ORDER_MESSAGE, dedupe_key=key,
               compose=compose, link=page_path("orders:order", order.number) + "#thread",
               bank=order.checkout.storefront_bank)
    if message.side != MessageSide.SHOP:
        shop = [m for m in _members(order.merchant_id) if m.pk != message.author_id]
        notify(recipients=shop, kind=Kind.ORDER_MESSAGE, dedupe_key=key, compose=compose,
               link=page_path("merchant_orders:detail", merchant_id=order.merchant_id,
                              number=order.number) + "#thread",
               bank=order.merchant.bank)


def deliver_order_event(event_id: int) -> None:
    event = (OrderEvent.objects.select_related(
        "order__checkout__storefront_bank", "order__merchant__bank", "order__pickup_branch",
        "order__buyer").filter(pk=event_id).first())
    if event is None:
        return
    order, kind = event.order, event.kind
    key = f"order-event:{event.pk}"
    shop = order.merchant.name
    buyer_link = page_path("orders:order", order.number)
    storefront = order.checkout.storefront_bank
    merchant_link = page_path("merchant_orders:detail", merchant_id=order.merchant_id,
                          number=order.number)
    amount = event.detail.get("amount") or order.total

    if kind == "pay":
        checkout = order.checkout
        notify(recipients=[order.buyer], kind=Kind.ORDER_PAID,
               dedupe_key=f"checkout-paid:{checkout.pk}",
               compose=lambda: (_("Payment received"), _(
                   "Checkout %(number)s is paid (%(total)s yuan). The merchants are "
                   "preparing your goods.") % {"number": checkout.number,
                                               "total": checkout.total}),
               link=page_path("orders:checkout-detail", checkout.number), bank=storefront)
        notify(recipients=_members(order.merchant_id), kind=Kind.NEW_ORDER, dedupe_key=key,
               compose=lambda: (_("New order to fulfil"), _(
                   "Order %(number)s is paid: %(total)s yuan, %(how)s.") % {
                   "number": order.number, "total": order.total,
                   "how": _("pickup at %(branch)s") % {"branch": order.pickup_branch.name}
                   if order.fulfilment == Fulfilment.PICKUP and order.pickup_branch
                   else _("to be shipped")}),
               link=merchant_link, bank=order.merchant.bank)
    elif kind == "ship":
        notify(recipients=[order.buyer], kind=Kind.ORDER_SHIPPED, dedupe_key=key,
               compose=lambda: (_("Order shipped"), _(
                   "%(shop)s shipped order %(number)s: %(carrier)s %(tracking)s.") % {
                   "shop": shop, "number": order.number, "carrier": order.carrier,
                   "tracking": order.tracking_number}),
               link=buyer_link, bank=storefront)
    elif kind == "ready_for_pickup":
        branch = order.pickup_branch
        # An order placed at a branch desk has its code texted by orders.assisted.
        assisted = AssistedOrder.objects.filter(checkout_id=order.checkout_id).exists()
        notify(recipients=[order.buyer], kind=Kind.PICKUP_READY, dedupe_key=key,
               compose=lambda: (_("Ready for pickup"), _(
                   "Order %(number)s is ready at %(branch)s (%(address)s). Pickup code "
                   "%(code)s: show it at the desk.") % {
                   "number": order.number, "branch": branch.name if branch else "",
                   "address": branch.address if branch else "",
                   "code": event.detail.get("code") or order.pickup_code}),
               link=buyer_link, bank=storefront, text=not assisted)
    elif kind == "deliver":
        notify(recipients=[order.buyer], kind=Kind.ORDER_DELIVERED, dedupe_key=key,
               compose=lambda: (_("Order delivered"), _(
                   "Order %(number)s from %(shop)s was delivered. Confirm receipt when "
                   "the goods are fine.") % {"number": order.number, "shop": shop}),
               link=buyer_link, bank=storefront)
    elif kind in ("refund_full", "refund_partial", "reject_refund"):
        def compose():
            if kind == "reject_refund":
                return _("Refund refused"), _(
                    "%(shop)s refused the refund on order %(number)s: %(reason)s") % {
                    "shop": shop, "number": order.number, "reason": event.note}
            return _("Refund approved"), _(
                "%(amount)s yuan of order %(number)s is refunded; it goes back the way "
                "you paid.") % {"amount": amount, "number": order.number}
        notify(recipients=[order.buyer], kind=Kind.REFUND_DECIDED, dedupe_key=key,
               compose=compose, link=buyer_link, bank=storefront)
    elif kind in ("return_approved", "return_refused"):
        notify(recipients=[order.buyer], kind=Kind.RETURN_DECIDED, dedupe_key=key,
               compose=lambda: (_("Return approved"), _(
                   "%(shop)s agrees to take back goods of order %(number)s: send them back "
                   "and enter the waybill on the order page.") % {
                   "shop": shop, "number": order.number}) if kind == "return_approved"
               else (_("Return refused"), _(
                   "%(shop)s refused the return on order %(number)s: %(note)s") % {
                   "shop": shop, "number": order.number, "note": event.note}),
               link=buyer_link, bank=storefront)
    elif kind == "return_lapsed":
        notify(recipients=[order.buyer], kind=Kind.RETURN_DECIDED, dedupe_key=key,
               compose=lambda: (_("Return closed"), _(
                   "The return on order %(number)s is closed: the goods were not sent back "
                   "in time.") % {"number": order.number}),
               link=buyer_link, bank=storefront)
    elif kind in ("return_requested", "return_shipped_back"):
        notify(recipients=_members(order.merchant_id), kind=Kind.RETURN_TO_HANDLE,
               dedupe_key=key,
               compose=lambda: (_("Return requested"), _(
                   "The buyer of order %(number)s asks to return goods: decide on the "
                   "returns page.") % {"number": order.number}) if kind == "return_requested"
               else (_("Goods sent back"), _(
                   "The buyer of order %(number)s sent the goods back; confirm when they "
                   "arrive.") % {"number": order.number}),
               link=merchant_link, bank=order.merchant.bank)
    elif kind in ("invoice_issued", "invoice_rejected"):
        notify(recipients=[order.buyer], kind=Kind.INVOICE_DECIDED, dedupe_key=key,
               compose=lambda: (_("Invoice issued"), _(
                   "%(shop)s issued the invoice for order %(number)s.") % {
                   "shop": shop, "number": order.number}) if kind == "invoice_issued"
               else (_("Invoice refused"), _(
                   "%(shop)s refused the invoice for order %(number)s: %(note)s") % {
                   "shop": shop, "number": order.number, "note": event.note}),
               link=buyer_link, bank=storefront)
    elif kind == "invoice_requested":
        notify(recipients=_members(order.merchant_id), kind=Kind.INVOICE_REQUESTED,
               dedupe_key=key,
               compose=lambda: (_("Invoice requested"), _(
                   "The buyer of order %(number)s asks for an invoice.") % {
                   "number": order.number}),
               link=merchant_link, bank=order.merchant.bank)
    elif kind == "dispute":
        # The shop (unless it raised it) and the account managers of the shop's bank.
        staff = [m.user for m in StaffMembership.objects.filter(
            bank_id=order.merchant_bank_id, is_active=True,
            role__in=[StaffRole.ACCOUNT_MANAGER, StaffRole.BANK_ADMIN]).select_related("user")]
        shop_side = [u for u in _members(order.merchant_id) if u.pk != event.actor_id]
        for people, link in ((shop_side, merchant_link),
                             (staff, page_path("console_orders:detail", order.number))):
            notify(recipients=people, kind=Kind.DISPUTE_RAISED, dedupe_key=key,
                   compose=lambda: (_("Dispute raised"), _(
                       "A dispute is raised on order %(number)s of %(shop)s: %(reason)s") % {
                       "number": order.number, "shop": shop, "reason": event.note}),
                   link=link, bank=order.merchant.bank)
    elif kind == "request_refund" and event.actor_id == order.buyer_id:
        # Not a refund the merchant makes itself, nor one the card gateway reports.
        notify(recipients=_members(order.merchant_id), kind=Kind.REFUND_REQUESTED,
               dedupe_key=key,
               compose=lambda: (_("Refund requested"), _(
                   "The buyer asks for %(amount)s yuan back on order %(number)s: "
                   "%(reason)s") % {"amount": amount, "number": order.number,
                                    "reason": event.note}),
               link=merchant_link, bank=order.merchant.bank)


# --- lending (in a bank's schema) -----------------------------------------------------------


def lending_event_saved(sender, instance, created: bool, **kwargs) -> None:
    if (created and instance.application_id is not None
            and (instance.action in APPLICATION_DECISIONS or instance.action == "submit")):
        _after_commit(deliver_lending_event, connection.schema_name, instance.pk)


def deliver_lending_event(schema_name: str, event_id: int) -> None:
    bank = Bank.objects.filter(schema_name=schema_name).first()
    if bank is None:
        return
    with schema_context(schema_name):
        event = (LendingEvent.objects.select_related("application")
                 .filter(pk=event_id).first())
    if event is None:
        return
    app = event.application
    key = f"lending-event:{schema_name}:{event.pk}"
    product = app.get_product_display
    merchant = (Merchant.objects.filter(pk=app.merchant_id).first()
                if app.party == PartyKind.MERCHANT else None)
    if event.action == "submit":
        officers = [m.user for m in StaffMembership.objects.filter(
            bank=bank, role=StaffRole.CREDIT_OFFICER, is_active=True).select_related("user")]
        notify(recipients=officers, kind=Kind.APPLICATION_SUBMITTED, dedupe_key=key,
               compose=lambda: (_("Financing application to review"), _(
                   "%(party)s applies for %(product)s of %(amount)s yuan.") % {
                   "party": merchant.name if merchant else _("A buyer"),
                   "product": product(), "amount": app.amount}),
               link=page_path("console_lending:application", app.pk), bank=bank)
        return
    approved = event.action != "reject" and event.action != "auto_reject"
    if merchant is not None:
        recipients = _members(merchant.pk)
        link = page_path("merchant_lending:home", merchant_id=merchant.pk)
    else:
        recipients = list(get_user_model().objects.filter(pk=app.user_id))
        link = page_path("lending:loans" if approved else "lending:home")

    def compose():
        values = {"product": product(), "amount": app.amount, "bank": bank.name,
                  "reason": event.note}
        if approved:
            return _("Financing approved"), _(
                "%(bank)s approved your %(product)s of %(amount)s yuan.") % values
        return _("Financing not approved"), _(
            "%(bank)s did not approve your %(product)s of %(amount)s yuan: "
            "%(reason)s") % values
    notify(recipients=recipients, kind=Kind.FINANCING_DECIDED, dedupe_key=key,
           compose=compose, link=link, bank=bank)


# --- admission (in a bank's schema) ---------------------------------------------------------


def dossier_event_saved(sender, instance, created: bool, **kwargs) -> None:
    if created and instance.action in ADMISSION_DECISIONS:
        _after_commit(deliver_dossier_event, connection.schema_name, instance.pk)


def deliver_dossier_event(schema_name: str, event_id: int) -> None:
    with schema_context(schema_name):
        event = (DossierEvent.objects.select_related("dossier")
                 .filter(pk=event_id).first())
    if event is None:
        return
    merchant = (Merchant.objects.select_related("bank")
                .filter(pk=event.dossier.merchant_id).first())
    if merchant is None:
        return
    def compose():
        title = {"approve": _("Your shop is approved"),
                 "reject": _("Your shop application was not approved"),
                 "suspend": _("Your shop is suspended"),
                 "reinstate": _("Your shop is open again")}[event.action]
        body = _("%(shop)s, %(bank)s.") % {"shop": merchant.name, "bank": merchant.bank.name}
        if event.reason:
            body = _("%(shop)s, %(bank)s: %(reason)s") % {
                "shop": merchant.name, "bank": merchant.bank.name, "reason": event.reason}
        return title, body
    notify(recipients=_members(merchant.pk), kind=Kind.ADMISSION_DECIDED,
           dedupe_key=f"dossier-event:{schema_name}:{event.pk}", compose=compose,
           link=page_path("merchant:home"), bank=merchant.bank)


# --- recalls --------------------------------------------------------------------------------


def recall_was_opened(sender, recall_id: int, **kwargs) -> None:
    """Sent after the recall's commit: the buyers are told by a worker (a recall may hold
    thousands of orders); a broker that is down costs the notices, never the recall."""
    from notifications.tasks import recall_notices  # late: the tasks import this module

    try:
        recall_notices.apply_async((recall_id,), retry=False)
    except Exception:
        log.exception("could not queue the notices of recall %s", recall_id)


def deliver_recall_notices(recall_id: int) -> int:
    """One notice per held order of the recall to its buyer (once, however often run)."""

    recall = Recall.objects.filter(pk=recall_id).first()
    if recall is None:
        return 0
    written = 0
    held = (RecallOrder.objects.filter(recall=recall).select_related(
        "order__buyer", "order__merchant", "order__checkout__storefront_bank")
        .order_by("order_id"))
    for row in held.iterator(chunk_size=500):
        order = row.order
        written += len(notify(
            recipients=[order.buyer], kind=Kind.ORDER_RECALLED,
            dedupe_key=f"recall:{recall.pk}:order:{order.pk}",
            compose=lambda order=order: (_("Goods recalled"), _(
                "Goods of your order %(number)s from %(shop)s are recalled: %(reason)s. "
                "You may apply for a refund on the order's page.") % {
                "number": order.number, "shop": order.merchant.name,
                "reason": recall.reason}),
            link=page_path("orders:order", order.number),
            bank=order.checkout.storefront_bank))
    return written
