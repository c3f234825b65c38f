"""Receivers of ``orders.hooks``: add-to-cart, checkout and purchase become traffic
events. Connected in ``FederationConfig.ready``; they run after the order's transaction
commits and never raise into it (``orders.hooks.send_on_commit`` sends robustly)."""

from __future__ import annotations

import time

from federation import recorder
from federation.middleware import current_request
from orders.models import OrderLine


def _context() -> dict:
    request = current_request.get()
    return recorder.request_context(request) if request is not None else {}


def on_cart_item_added(sender, item, quantity, **kwargs) -> None:
    context = _context()
    if "user_id" not in context and item.cart.user_id:
        context["user_id"] = item.cart.user_id
    recorder.record("add_to_cart", sku_id=item.sku_id, quantity=quantity, **context)


def _buyer_context(checkout, at: float) -> dict:
    """Checkouts and purchases: the storefront of the checkout and the buyer; the session
    hash is a buyer pseudonym that changes every day (counts distinct buyers per day
    without linking days), the user id is kept only with consent (at the flush)."""
    day = time.strftime("%Y-%m-%d", time.gmtime(at + 8 * 3600))
    return {"storefront_bank_id": checkout.storefront_bank_id,
            "session_hash": recorder.keyed_hash(f"b:{day}:{checkout.buyer_id}"),
            "user_id": checkout.buyer_id,
            "segment": getattr(checkout.buyer, "segment", "")}


def _lines(checkout):
    return (OrderLine.objects.filter(order__checkout=checkout)
            .select_related("sku").order_by("order_id", "pk"))


def _record_lines(kind: str, checkout, lines=None) -> None:
    """One event per order line; ``lines`` when the sender has them in hand (else read)."""
    at = time.time()
    context = _buyer_context(checkout, at)
    lines = [recorder.encode(kind, at=at, checkout_id=checkout.pk, order_id=line.order_id,
                             product_id=line.sku.product_id, quantity=line.quantity,
                             amount=str(line.line_total), **context)
             for line in (lines if lines is not None else _lines(checkout))]
    recorder.push([line for line in lines if line])


def on_checkout_placed(sender, checkout, lines=None, **kwargs) -> None:
    _record_lines("checkout", checkout, lines)


def on_checkout_paid(sender, checkout, **kwargs) -> None:
    _record_lines("purchase", checkout)
