"""Warehouses, stock by lot and warehouse receipts through the real services and
database: the inspection state machine (audited), movements keep the SKU's on_hand equal
to its lots' units not pledged, pledged units never leave or sell, receipts issue only in
approved warehouses, transfer only through the platform, and verify publicly."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from banks.models import BankEvent
from catalog.models import Sku
from catalog.services import stock_adjust, stock_set
from core.errors import ApplicationError
from orders import services as orders
from tests.orders_factories import market, pay, place, product_with_sku
from warehouses import selectors
from warehouses import services as wh
from warehouses.models import Lot, MoveKind, ReceiptStatus, StockMove, WarehouseStatus

pytestmark = pytest.mark.django_db


def owner(merchant):
    return merchant.members.get().user


def warehouse(province, bank=None, *, approve=True, name="甲县冷链仓"):
    bank = bank or province.bank_a
    actor = province.a_manager if bank == province.bank_a else province.b_manager
    w = wh.warehouse_register(bank=bank, actor=actor, name=name, operator="甲县果蔬合作社",
                              address="甲县工业园 3 号", capacity=10000,
                              temperature_class="chilled")
    if approve:
        w = wh.warehouse_decide(warehouse=w, actor=actor, action="approve", note="库温合格")
    return w


def sku_of(sku_id) -> Sku:
    return Sku.objects.get(pk=sku_id)


@pytest.fixture
def shop(province):
    return market(province, stock_a=5)


@pytest.fixture
def stored(province, shop):
    """Merchant A's apples: 50 units received into an approved warehouse."""
    w = warehouse(province)
    lot = wh.lot_inbound(actor=owner(shop.merchant_a), merchant=shop.merchant_a, warehouse=w,
                         sku=shop.sku_a, quantity=50, grade="一级")
    return lot


def test_warehouse_inspection_machine_is_audited(province):
    w = warehouse(province, approve=False)
    assert w.status == WarehouseStatus.PENDING
    with pytest.raises(ValidationError) as exc:
        wh.warehouse_decide(warehouse=w, actor=province.a_admin, action="reject")
    assert "note" in exc.value.message_dict
    with pytest.raises(ApplicationError):
        wh.warehouse_decide(warehouse=w, actor=province.a_admin, action="suspend", note="x")
    w = wh.warehouse_decide(warehouse=w, actor=province.a_admin, action="approve", note="合格")
    assert (w.status, w.decided_by, w.inspection_note) == ("approved", province.a_admin, "合格")
    w = wh.warehouse_decide(warehouse=w, actor=province.a_admin, action="suspend",
                            note="温控失灵")
    assert w.status == WarehouseStatus.SUSPENDED
    actions = list(BankEvent.objects.filter(bank=province.bank_a, detail__object=
                                            f"warehouses.warehouse:{w.pk}")
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["warehouse_registered", "warehouse_approve", "warehouse_suspend"]
    with pytest.raises(ValidationError):
        wh.warehouse_register(bank=province.bank_a, actor=province.a_admin, name="", operator="",
                              address="x", capacity="lots", temperature_class="hot")


def test_first_inbound_replaces_the_shelf_count_and_movements_follow(province, shop, stored):
    sku = sku_of(shop.sku_a.pk)
    assert (sku.in_warehouse, sku.on_hand, sku.stock) == (True, 50, 50)
    # A second warehouse, a transfer: the SKU's figures stay.
    w2 = warehouse(province, name="甲县二号仓")
    moved = wh.lot_transfer(actor=owner(shop.merchant_a), lot=stored, to_warehouse=w2,
                            quantity=10)
    assert (Lot.objects.get(pk=stored.pk).on_hand, moved.on_hand) == (40, 10)
    assert sku_of(sku.pk).on_hand == 50
    wh.lot_outbound(actor=owner(shop.merchant_a), lot=moved, quantity=4, note="线下批发")
    taken = wh.lot_stocktake(actor=owner(shop.merchant_a), lot=stored, counted=37,
                             note="盘亏 3 件，损耗")
    assert taken.on_hand == 37
    assert sku_of(sku.pk).on_hand == 37 + 6
    move = StockMove.objects.filter(lot=stored, kind=MoveKind.ADJUSTMENT).get()
    assert (move.quantity, move.counted, move.note) == (-3, 37, "盘亏 3 件，损耗")
    # The shelf count no longer applies; returns leave the figures as they are.
    with pytest.raises(ValidationError):
        stock_set(sku=sku, on_hand=100)
    stock_adjust(sku=sku, delta=2)
    assert sku_of(sku.pk).on_hand == 43


def test_pledged_units_neither_leave_nor_sell(province, shop, stored):
    w = stored.warehouse
    receipt = wh.receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=stored,
                               quantity=30)
    wh.receipt_pledge(bank=province.bank_a, receipt=receipt, actor=province.a_credit)
    stored.refresh_from_db()
    assert (stored.on_hand, stored.pledged) == (50, 30)
    assert sku_of(shop.sku_a.pk).stock == 20
    # Outbound of pledged goods: 400, nothing changed.
    with pytest.raises(ApplicationError) as exc:
        wh.lot_outbound(actor=owner(shop.merchant_a), lot=stored, quantity=21)
    assert exc.value.code == "pledged"
    with pytest.raises(ApplicationError):
        wh.lot_transfer(actor=owner(shop.merchant_a), lot=stored,
                        to_warehouse=warehouse(province, name="乙仓"), quantity=25)
    with pytest.raises(ApplicationError):
        wh.lot_stocktake(actor=owner(shop.merchant_a), lot=stored, counted=29, note="少了")
    stored.refresh_from_db()
    assert (stored.on_hand, stored.pledged, sku_of(shop.sku_a.pk).on_hand) == (50, 30, 20)
    # A buyer takes 20; the 21st unit is not for sale.
    buyer = province.shopper
    checkout = place(buyer, province.bank_a, [(shop.sku_a, 20)])
    with pytest.raises(ApplicationError):
        place(buyer, province.bank_a, [(shop.sku_a, 1)])
    # Releasing more than pledged: 400, nothing changed.
    with pytest.raises(ValidationError):
        wh.receipt_release(receipt=receipt, quantity=31, actor=province.a_credit)
    assert sku_of(shop.sku_a.pk).stock == 0
    # Shipping takes the units off the lot's free units.
    pay(checkout)
    order = checkout.orders.get()
    orders.order_ship(order=order, actor=owner(shop.merchant_a), carrier="顺丰速运",
                      tracking_number=f"SF{order.pk:010d}")
    stored.refresh_from_db()
    assert (stored.on_hand, stored.pledged) == (30, 30)
    assert StockMove.objects.filter(lot=stored, kind=MoveKind.SHIPPED).get().quantity == -20
    sku = sku_of(shop.sku_a.pk)
    assert (sku.on_hand, sku.reserved) == (0, 0)
    # Released proportionally, then wholly.
    wh.receipt_release(receipt=receipt, quantity=10, actor=province.a_credit)
    assert sku_of(shop.sku_a.pk).stock == 10
    receipt = wh.receipt_release(receipt=receipt, quantity=20, actor=province.a_credit)
    assert (receipt.status, receipt.pledged) == (ReceiptStatus.RELEASED, 0)
    assert sku_of(shop.sku_a.pk).stock == 30
    assert w.status == "approved"


def test_a_pledge_of_units_reserved_for_orders_is_refused(province, shop, stored):
    receipt = wh.receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=stored,
                               quantity=30)
    place(province.shopper, province.bank_a, [(shop.sku_a, 25)])  # 25 of 50 reserved
    with pytest.raises(ApplicationError) as exc:
        wh.receipt_pledge(bank=province.bank_a, receipt=receipt, actor=province.a_credit)
    assert exc.value.code == "reserved"
    receipt.refresh_from_db()
    stored.refresh_from_db()
    assert (receipt.status, stored.pledged, sku_of(shop.sku_a.pk).stock) == ("valid", 0, 25)


def test_receipts_only_in_approved_warehouses_and_of_the_bank(province, shop, stored):
    with pytest.raises(ValidationError):
        wh.receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=stored,
                         quantity=51)
    with pytest.raises(Http404):
        wh.receipt_issue(bank=province.bank_b, actor=province.b_manager, lot=stored,
                         quantity=5)
    receipt = wh.receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=stored,
                               quantity=40)
    with pytest.raises(ValidationError):  # 10 left uncovered
        wh.receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=stored,
                         quantity=11)
    wh.warehouse_decide(warehouse=stored.warehouse, actor=province.a_admin, action="suspend",
                        note="温控失灵")
    with pytest.raises(ApplicationError) as exc:
        wh.receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=stored,
                         quantity=5)
    assert exc.value.code == "warehouse_not_approved"
    with pytest.raises(ApplicationError) as exc:
        wh.receipt_pledge(bank=province.bank_a, receipt=receipt, actor=province.a_credit)
    assert exc.value.code == "warehouse_not_approved"
    stored.refresh_from_db()
    assert stored.pledged == 0
    # Inbound into a warehouse that is not approved, or of another bank, is refused.
    pending = warehouse(province, approve=False, name="待验仓")
    with pytest.raises(ApplicationError):
        wh.lot_inbound(actor=owner(shop.merchant_a), merchant=shop.merchant_a,
                       warehouse=pending, sku=shop.sku_a, quantity=1)
    with pytest.raises(Http404):
        wh.lot_inbound(actor=owner(shop.merchant_a), merchant=shop.merchant_a,
                       warehouse=warehouse(province, province.bank_b, name="乙县粮库"),
                       sku=shop.sku_a, quantity=1)


def test_transfer_through_the_platform_and_public_facts(province, shop, stored):
    receipt = wh.receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=stored,
                               quantity=10)
    receipt = wh.receipt_transfer(receipt=receipt, actor=owner(shop.merchant_a),
                                  to_merchant_id=shop.merchant_b.pk, note="转让")
    assert receipt.holder == shop.merchant_b
    assert receipt.transfers.get().from_holder == shop.merchant_a
    assert BankEvent.objects.filter(action="receipt_transferred",
                                    bank=province.bank_a).exists()
    with pytest.raises(ValidationError):
        wh.receipt_transfer(receipt=receipt, actor=owner(shop.merchant_b),
                            to_merchant_id="nobody")
    facts = selectors.receipt_verify(token=receipt.verify_token)
    assert (facts.number, facts.quantity, facts.status, facts.grade) == (
        receipt.number, 10, "valid", "一级")
    assert not hasattr(facts, "holder")
    wh.receipt_pledge(bank=province.bank_a, receipt=receipt, actor=province.a_credit)
    with pytest.raises(ApplicationError):
        wh.receipt_transfer(receipt=receipt, actor=owner(shop.merchant_b),
                            to_merchant_id=shop.merchant_a.pk)
    with pytest.raises(ApplicationError):
        wh.receipt_cancel(receipt=receipt, actor=province.a_manager, note="取货")


def test_checkout_of_a_warehouse_sku_runs_the_same_statements_as_a_shelf_sku(province, shop):
    """The stock rule adds nothing to checkout: it reserves against the SKU's stock as
    before (the figure for bench/README.md)."""


    shelf = product_with_sku(shop.merchant_a, name="货架苹果", price="45.50", stock=50)
    kept = product_with_sku(shop.merchant_a, name="冷库苹果", price="45.50", stock=0)
    w = warehouse(province)
    lot = wh.lot_inbound(actor=owner(shop.merchant_a), merchant=shop.merchant_a, warehouse=w,
                         sku=kept, quantity=50)
    receipt = wh.receipt_issue(bank=province.bank_a, actor=province.a_manager, lot=lot,
                               quantity=30)
    wh.receipt_pledge(bank=province.bank_a, receipt=receipt, actor=province.a_credit)
    place(province.shopper, province.bank_a, [(shelf, 1)])  # warm-up
    counts = {}
    for name, sku in (("shelf", shelf), ("warehouse", kept), ("shelf again", shelf)):
        with CaptureQueriesContext(connection) as queries:
            place(province.shopper, province.bank_a, [(sku, 1)])
        counts[name] = len(queries)
    assert counts["warehouse"] == counts["shelf"] == counts["shelf again"], counts
