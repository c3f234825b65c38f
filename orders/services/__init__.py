"""Writes on buying: carts, checkout (stock and flash-sale reservation, the split into one
order per merchant, attribution), the order state machine, fulfilment, receipts, refunds,
share links and referral touches.

One module per use case; how stock is reserved and given back is told in ``stock``.
Callers import from here (``from orders import services``).
"""

from orders.models import RECEIVED, REFUNDABLE

from .carts import (
    MAX_LINE_QUANTITY,
    cart_add,
    cart_clear,
    cart_get_or_create,
    cart_merge,
    cart_set_quantity,
)
from .checkout import (
    DeliveryAddress,
    FulfilmentChoice,
    checkout_cancel,
    checkout_mark_paid,
    checkout_place,
)
from .flash_sales import flash_sale_buy, flash_sale_create
from .fulfilment import (
    order_confirm_receipt,
    order_ready_for_pickup,
    order_ship,
    order_track,
    orders_auto_confirm,
    pickup_verify,
)
from .holds import orders_hold, orders_release
from .messages import order_dispute_raise, order_message_post, side_of
from .referral import referral_claim, referral_touch, share_link_for
from .refunds import refund_decide, refund_issue, refund_record_external, refund_request
from .shipping import shipping_rule_set
from .transitions import ORDER_TRANSITIONS, order_allowed_actions

__all__ = [
    "orders_hold",
    "orders_release",
    "order_dispute_raise",
    "order_message_post",
    "side_of",
    "MAX_LINE_QUANTITY",
    "ORDER_TRANSITIONS",
    "RECEIVED",
    "REFUNDABLE",
    "DeliveryAddress",
    "FulfilmentChoice",
    "cart_add",
    "cart_clear",
    "cart_get_or_create",
    "cart_merge",
    "cart_set_quantity",
    "checkout_cancel",
    "checkout_mark_paid",
    "checkout_place",
    "flash_sale_buy",
    "flash_sale_create",
    "order_allowed_actions",
    "order_confirm_receipt",
    "order_ready_for_pickup",
    "order_ship",
    "order_track",
    "orders_auto_confirm",
    "pickup_verify",
    "referral_claim",
    "referral_touch",
    "refund_decide",
    "refund_issue",
    "refund_record_external",
    "refund_request",
    "share_link_for",
    "shipping_rule_set",
]

# After-sales returns.
from .returns import (  # noqa: E402
    MAX_RETURN_PHOTOS,
    return_add_photo,
    return_decide,
    return_lapse,
    return_receive,
    return_request,
    return_ship_back,
    return_withdraw,
    returns_time_out,
)

__all__ += [
    "MAX_RETURN_PHOTOS",
    "return_add_photo",
    "return_decide",
    "return_lapse",
    "return_receive",
    "return_request",
    "return_ship_back",
    "return_withdraw",
    "returns_time_out",
]
# Reviews and ratings.
from .reviews import (  # noqa: E402
    order_reviewable,
    review_create,
    review_edit,
    review_hide,
    review_reply,
    review_unhide,
)

__all__ += ["order_reviewable", "review_create", "review_edit", "review_hide",
            "review_reply", "review_unhide"]


from .invoices import (  # noqa: E402 - invoices (发票)
    INVOICE_NUMBER,
    invoice_issue,
    invoice_reject,
    invoice_request,
    invoice_withdraw,
)

__all__ += ["INVOICE_NUMBER", "invoice_issue", "invoice_reject", "invoice_request",
            "invoice_withdraw"]
