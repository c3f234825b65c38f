"""Pledged goods are never sold, under concurrency: 100 buyers check out at the same
moment (threads, each with its own database session, through the real checkout) against
a lot of 50 units of which 30 are pledged: at most 20 sell. And a pledge racing the
buyers: whichever wins, units sold plus units pledged never exceed the lot.

The data is committed (other sessions must see it), made once for the module, and its
orders, carts, receipts, lots and warehouses are deleted at the end.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.models import Sum

from accounts.services import user_register
from catalog.models import Sku
from catalog.services import product_transition
from orders.models import Cart, CartItem, Checkout, Order, OrderLine
from tests import unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import product_with_sku
from tests.test_stock_concurrency import buy, committed, failure_codes, run_concurrently
from warehouses import services as wh
from warehouses.models import Lot, StockMove, Warehouse, WarehouseReceipt

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]

BUYERS = 100
TAG = unique.tag()


@pytest.fixture(scope="module")
def yard(province, django_db_blocker):

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        merchant, _dossier = approved_merchant(province.bank_a, province.a_manager,
                                               name=f"仓储测试合作社{TAG}")
        actor = merchant.members.get().user
        store = wh.warehouse_register(bank=province.bank_a, actor=province.a_manager,
                                      name=f"冷库{TAG}", operator="合作社", address="甲县",
                                      capacity=1000, temperature_class="chilled")
        store = wh.warehouse_decide(warehouse=store, actor=province.a_admin,
                                    action="approve")

        def lot_of(name):
            sku = product_with_sku(merchant, name=f"{name}{TAG}", price="30.00", stock=0)
            lot = wh.lot_inbound(actor=actor, merchant=merchant, warehouse=store, sku=sku,
                                 quantity=50)
            receipt = wh.receipt_issue(bank=province.bank_a, actor=province.a_manager,
                                       lot=lot, quantity=30)
            return sku, lot, receipt

        pledged_sku, pledged_lot, pledged_receipt = lot_of("冷库苹果")
        wh.receipt_pledge(bank=province.bank_a, receipt=pledged_receipt,
                          actor=province.a_credit)
        race_sku, race_lot, race_receipt = lot_of("冷库梨")
        data = SimpleNamespace(
            merchant=merchant, store=store, pledged_sku=pledged_sku, pledged_lot=pledged_lot,
            race_sku=race_sku, race_lot=race_lot, race_receipt=race_receipt,
            buyers=[user_register(username=f"wh-{TAG}-{n:03d}", password=province.password)
                    for n in range(BUYERS)])
    yield data
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        skus = [data.pledged_sku, data.race_sku]
        mine = Order.objects.filter(merchant=data.merchant)
        checkouts = list(mine.values_list("checkout_id", flat=True))
        mine.delete()
        Checkout.objects.filter(pk__in=checkouts, orders__isnull=True).delete()
        Cart.objects.filter(user__in=data.buyers).delete()
        CartItem.objects.filter(sku__in=skus).delete()
        lots = Lot.objects.filter(warehouse=data.store)
        StockMove.objects.filter(lot__in=lots).delete()
        WarehouseReceipt.objects.filter(lot__in=lots).delete()
        lots.delete()
        Warehouse.objects.filter(pk=data.store.pk).delete()
        for s in skus:
            product_transition(product=s.product, action="delist")


def sold(sku) -> int:
    return OrderLine.objects.filter(sku=sku).aggregate(n=Sum("quantity"))["n"] or 0


def test_100_checkouts_against_50_with_30_pledged_sell_at_most_20(province, yard):
    sku = yard.pledged_sku
    assert Sku.objects.get(pk=sku.pk).stock == 20
    jobs = [lambda b=b: buy(b, province.bank_a, [(sku, 1)]) for b in yard.buyers]

    outcomes = run_concurrently(jobs)

    assert sum(ok for ok, _r in outcomes) == 20
    assert failure_codes(outcomes) == Counter(out_of_stock=BUYERS - 20)
    assert sold(sku) == 20
    lot = Lot.objects.get(pk=yard.pledged_lot.pk)
    assert (lot.on_hand, lot.pledged) == (50, 30)
    row = Sku.objects.get(pk=sku.pk)
    assert (row.on_hand, row.reserved, row.stock) == (20, 20, 0)
    committed(lambda: CartItem.objects.filter(cart__user__in=yard.buyers).delete())


def test_a_pledge_racing_the_buyers_never_takes_sold_units(province, yard):
    sku, receipt = yard.race_sku, yard.race_receipt

    def pledge():
        return wh.receipt_pledge(bank=province.bank_a, receipt=receipt,
                                 actor=province.a_credit)

    buyers = [lambda b=b: buy(b, province.bank_a, [(sku, 1)]) for b in yard.buyers]
    jobs = buyers[:40] + [pledge] + buyers[40:]

    outcomes = run_concurrently(jobs)

    pledged_ok, result = outcomes[40]
    units = sold(sku)
    lot = Lot.objects.get(pk=yard.race_lot.pk)
    row = Sku.objects.get(pk=sku.pk)
    if pledged_ok:
        assert lot.pledged == 30 and units <= 20
    else:
        assert result.code == "reserved" and lot.pledged == 0 and units == 50
    assert units + lot.pledged <= lot.on_hand == 50
    assert (row.on_hand, row.reserved) == (50 - lot.pledged, units)
    committed(lambda: CartItem.objects.filter(cart__user__in=yard.buyers).delete())
