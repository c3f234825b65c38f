"""Writes on warehouses, lots and warehouse receipts. Every write of the app is here.

One module per use case: ``warehouses`` (registration and the inspection decisions),
``stock`` (lot movements: inbound, outbound, transfer, stock-take, goods shipped for
orders, pledge and release of units) and ``receipts`` (issue, transfer, cancel, pledge
and release). Callers import from this package.

Lock order, everywhere: the SKU row first, then its lots in id order (shipping an order
updates the SKU in ``catalog.services.stock_issue`` and then calls the lots' hook), so a
movement and a shipment of the same SKU cannot deadlock.
"""

from warehouses.services.receipts import (
    receipt_cancel,
    receipt_issue,
    receipt_pledge,
    receipt_release,
    receipt_transfer,
)
from warehouses.services.stock import (
    lot_inbound,
    lot_outbound,
    lot_stocktake,
    lot_transfer,
    lots_issue_shipped,
)
from warehouses.services.warehouses import warehouse_decide, warehouse_register

__all__ = [
    "lot_inbound",
    "lot_outbound",
    "lot_stocktake",
    "lot_transfer",
    "lots_issue_shipped",
    "receipt_cancel",
    "receipt_issue",
    "receipt_pledge",
    "receipt_release",
    "receipt_transfer",
    "warehouse_decide",
    "warehouse_register",
]
