"""Points are earned when an order completes: the receiver enters the schema of each
bank whose programme rewards the order (the storefront's, and the sharer's bank) and
earns there. A failure here never reaches the buyer; the daily sweep catches up."""

from __future__ import annotations

import logging

from django_tenants.utils import schema_context

from banks.models import Bank
from rewards.services import points_earn_for_order

log = logging.getLogger(__name__)


def earn_on_completion(sender, *, order, **kwargs) -> None:
    bank_ids = {order.checkout.storefront_bank_id}
    if order.sharer_id:
        bank_ids.add(order.referrer_bank_id)
    for bank in Bank.objects.filter(pk__in=[b for b in bank_ids if b], is_active=True):
        with schema_context(bank.schema_name):
            points_earn_for_order(bank=bank, order=order)
