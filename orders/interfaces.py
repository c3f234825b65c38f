"""What ``orders`` needs from outer apps, as small interfaces they register at start-up.

``orders`` never imports ``payments``: an approved refund reaches the card gateway and the
ledger through the handler ``payments`` registers here (in its AppConfig.ready).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orders.models import Checkout, Refund

RefundHandler = Callable[["Refund"], str]

_refund_handler: RefundHandler | None = None


def register_refund_handler(handler: RefundHandler) -> None:
    """``handler(refund)`` returns the money to the buyer's card and books it; it returns
    the gateway's reference, or raises ``ApplicationError`` when the gateway refuses."""
    global _refund_handler
    _refund_handler = handler


def refund_handler() -> RefundHandler:
    if _refund_handler is None:  # pragma: no cover - the payments app always registers one
        raise RuntimeError("no refund handler registered (is the payments app installed?)")
    return _refund_handler


# --- points applied to a checkout -----------------------------------------------------------

CancelHandler = Callable[["Checkout"], None]

_cancel_handlers: list[CancelHandler] = []


def register_cancel_handler(handler: CancelHandler) -> None:
    """``handler(checkout)`` runs inside the transaction that cancels an unpaid checkout
    which had points applied (the points programme gives them back)."""
    if handler not in _cancel_handlers:
        _cancel_handlers.append(handler)


def cancel_handlers() -> list[CancelHandler]:
    return list(_cancel_handlers)


# --- points a sharer earned ----------------------------------------------------------------

SharePointsProvider = Callable[..., dict]

_share_points_provider: SharePointsProvider | None = None


def register_share_points_provider(provider: SharePointsProvider) -> None:
    """``provider(bank=, sharer=, order_ids=)`` -> {order id: points the sharer earned from
    it in ``bank``'s programme}; called in that bank's schema (the "my shares" page)."""
    global _share_points_provider
    _share_points_provider = provider


def share_points(*, bank, sharer, order_ids) -> dict:
    if _share_points_provider is None or not order_ids:
        return {}
    return _share_points_provider(bank=bank, sharer=sharer, order_ids=list(order_ids))


# --- sales of outside channels (partner platforms) ---------------------------------------


@dataclass(frozen=True)
class ChannelSales:
    """What an outside sales channel (a partner platform selling the shared catalog)
    sold of one bank's merchants on one local day: merchant orders paid that day and
    their goods totals (as the traffic roll-ups count GMV: goods, not shipping)."""

    channel: str  # a stable key, e.g. "partner:3"
    name: str
    merchant_bank_id: int
    day: datetime.date
    orders: int
    gmv: Decimal


ChannelSalesProvider = Callable[..., list[ChannelSales]]

_channel_sales_providers: list[ChannelSalesProvider] = []


def register_channel_sales(provider: ChannelSalesProvider) -> None:
    """``provider(start=, end=)`` -> ``ChannelSales`` rows of the days ``start`` to ``end``
    (both included), read from the shared schema only (the federation's dashboards show
    them beside the banks' storefronts)."""
    if provider not in _channel_sales_providers:
        _channel_sales_providers.append(provider)


def channel_sales(*, start: datetime.date, end: datetime.date) -> list[ChannelSales]:
    return [row for provider in _channel_sales_providers
            for row in provider(start=start, end=end)]
