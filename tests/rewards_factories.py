"""Points data for the points pages' and API's tests: points granted through the ledger
service, mall offers in a bank's schema."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from rewards import services as rewards
from rewards.models import MallOffer
from rewards.services import ledger as points_ledger
from tests import unique


def grant(bank, user, points, *, on=None):
    with schema_context(bank.schema_name):
        return points_ledger._earn(bank=bank, user_id=user.pk, points=points,
                                   reference=f"test:{unique.tag(10)}", note="测试积分", on=on)


def offer(bank, merchant, sku, **fields):
    now = timezone.now()
    with schema_context(bank.schema_name):
        return MallOffer.objects.create(**{
            "title": "苹果兑换", "merchant_id": merchant.pk, "sku_id": sku.pk,
            "points_price": 100, "quantity": 5, "per_customer_limit": 2,
            "starts_at": now - timedelta(minutes=1), "ends_at": now + timedelta(hours=2),
            **fields})


def balance(bank, user) -> int:
    with schema_context(bank.schema_name):
        return rewards.balance(user_id=user.pk)
