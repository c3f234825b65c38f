"""Signals ``recalls`` sends so that outer apps (notifications) can tell people, without
``recalls`` importing them. Sent after the transaction commits; a receiver's failure
never undoes or breaks the recall.

- ``recall_opened(sender, recall_id)``: a recall was opened and its orders held (their
  history rows of kind "recall" are written in bulk, so no per-row signal fires).
"""

from __future__ import annotations

from django.dispatch import Signal

from orders.hooks import send_on_commit

recall_opened = Signal()

__all__ = ["recall_opened", "send_on_commit"]
