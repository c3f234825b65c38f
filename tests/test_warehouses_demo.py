"""The demo warehouses load through the real services, and loading again adds nothing."""

import pytest
from django_tenants.utils import schema_context

from catalog.models import Sku
from fixtures.warehouses_demo import WAREHOUSES, load_demo_warehouses
from lending.models import Loan, Product
from tests.orders_factories import market
from warehouses.models import Lot, Warehouse, WarehouseReceipt

pytestmark = pytest.mark.django_db


def test_demo_warehouses_with_a_pledge_loan_and_idempotent(province):
    market(province, stock_a=30)  # at least one listed product of bank A
    first = load_demo_warehouses(banks=[province.bank_a])
    # The demo's own (another module may have left a warehouse of its own in bank A).
    demo = Warehouse.objects.filter(bank=province.bank_a,
                                    name__in=[spec[0] for spec in WAREHOUSES])
    assert first.counts["warehouses"] == 3 and first.counts["pledge_loans"] == 1
    assert first.counts["lots"] == first.counts["receipts"] >= 1
    assert list(demo.order_by("pk").values_list("status", flat=True)) == [
        "approved", "approved", "pending"]
    lot = Lot.objects.filter(warehouse__in=demo).order_by("pk").first()
    assert (lot.on_hand, lot.pledged) == (200, 120)
    assert Sku.objects.get(pk=lot.sku_id).stock == 80
    receipt = WarehouseReceipt.objects.get(lot=lot)
    with schema_context(province.bank_a.schema_name):
        assert Loan.objects.get(product=Product.PLEDGE).receipt_id == receipt.pk
    assert load_demo_warehouses(banks=[province.bank_a]).counts == {}
    assert demo.count() == 3
