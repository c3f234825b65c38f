"""Signals ``orders`` sends so that outer apps (traffic statistics) can react to trade
without ``orders`` importing them. Each is sent after the transaction commits, never
inside it, and a receiver's failure never reaches the shopper (``send_robust``).

- ``cart_item_added(sender, item, quantity)``: a shopper put ``quantity`` of a SKU in
  their cart (``item`` is the ``CartItem``).
- ``checkout_placed(sender, checkout, lines)``: a checkout and its orders were created;
  ``lines`` are its ``OrderLine`` rows as written (with their SKU), in order and line
  order, so that a receiver needs no query to read them.
- ``checkout_paid(sender, checkout)``: the checkout's payment succeeded.
- ``order_completed(sender, order)``: the buyer confirmed receipt (or it was confirmed
  automatically): the order is final (points are earned on it).
"""

from __future__ import annotations

import contextvars
import logging

from django.db import transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

cart_item_added = Signal()
checkout_placed = Signal()
checkout_paid = Signal()
order_completed = Signal()


def send_on_commit(signal: Signal, **kwargs) -> None:
    """Send ``signal`` once the current transaction commits, in the context (context
    variables, e.g. the request being served) of this call."""
    context = contextvars.copy_context()

    def send() -> None:
        for receiver, result in signal.send_robust(sender=None, **kwargs):
            if isinstance(result, Exception):
                log.warning("%s receiver %r failed: %s", signal, receiver, result)

    transaction.on_commit(lambda: context.run(send))
