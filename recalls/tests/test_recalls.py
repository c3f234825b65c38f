"""Recalls and lab reports through the real services, database and card server: opening
a recall delists, refuses checkout, holds exactly the affected orders' money (settlement
skips them and says why, and pays them after a release), refund_all refunds through the
ledger to the fen; scoping (404 across banks), bad input (400), lab report validation and
the bank's passing-report policy."""

from __future__ import annotations

import datetime
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from accounts.services import user_register
from banks.services import bank_set_listing_policy
from catalog.models import Batch, Product, ProductStatus
from catalog.services import batch_create, lab_report_add
from fixtures.recalls_demo import OPEN_REASON, RELEASED_REASON, load_demo_recalls
from notifications.models import Kind, Notification
from notifications.receivers import deliver_recall_notices
from orders import services as orders
from orders.models import Order, OrderEvent, OrderHold, OrderStatus, Refund, RefundStatus
from payments import settlement
from payments.models import Posting, SettlementHold, SettlementItem
from recalls.models import Recall, RecallStatus
from tests import unique
from tests.orders_factories import market, pay, place, product_with_sku

pytestmark = pytest.mark.django_db

DELIVERY = {"recipient_name": "张三", "recipient_phone": "13700000001",
            "address": "甲县人民路 18 号 3 单元"}


def new_buyer():
    return user_register(username=f"buyer-{unique.tag(8)}", password="Test@pass-2026")


def owner(merchant):
    return merchant.members.get().user


def batch_of(sku, code=None, days_ago=30) -> Batch:
    return batch_create(product=sku.product, code=code or f"B-{unique.tag()}",
                        harvest_date=timezone.localdate() - timedelta(days=days_ago),
                        farm="甲县果园")


def paid_order(province, sku, buyer=None, quantity=1) -> Order:
    checkout = place(buyer or new_buyer(), province.bank_a, [(sku, quantity)])
    pay(checkout)
    return checkout.orders.get()


def completed(order: Order) -> Order:
    seller = owner(order.merchant)
    orders.order_ship(order=order, actor=seller, carrier="顺丰速运",
                      tracking_number=f"SF{order.pk:010d}")
    orders.order_track(order=order, actor=seller, description="已签收", delivered=True)
    orders.order_confirm_receipt(order=order, actor=order.buyer)
    order.refresh_from_db()
    return order


def open_recall(api, batches, reason="农药残留超标"):
    return api.post("/api/v1/console/recalls/",
                    {"batches": [getattr(b, "pk", b) for b in batches], "reason": reason},
                    format="json")


def run_settlement(bank):
    run = settlement.settlement_run_start(bank=bank, cutoff=timezone.now())
    return settlement.settlement_run_execute(run.pk)


@pytest.fixture
def shop(province):
    return market(province)


def test_opening_delists_refuses_checkout_and_holds_exactly_the_affected_orders(
        province, shop, api_on):
    batch = batch_of(shop.sku_a)
    affected = paid_order(province, shop.sku_a)
    before_harvest = paid_order(province, shop.sku_a)
    Order.objects.filter(pk=before_harvest.pk).update(
        paid_at=timezone.now() - timedelta(days=40))
    other_product = paid_order(province, shop.sku_b)
    unpaid = place(new_buyer(), province.bank_a, [(shop.sku_a, 1)]).orders.get()
    # A buyer with the recalled apples in the cart before the recall.
    shopper = new_buyer()
    buyer_api = api_on(province.bank_a, shopper)
    assert buyer_api.post("/api/v1/cart/items/", {"sku": shop.sku_a.pk, "quantity": 1},
                          format="json").status_code == 201

    response = open_recall(api_on(province.bank_a, province.a_manager), [batch])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "open" and body["orders_held"] == 1
    assert [b["id"] for b in body["batches"]] == [batch.pk]

    assert Product.objects.get(pk=shop.sku_a.product_id).status == ProductStatus.DELISTED
    assert Batch.objects.get(pk=batch.pk).recalled_at is not None
    held = set(Order.objects.filter(held_reason=OrderHold.RECALL,
                                    pk__in=[affected.pk, before_harvest.pk, other_product.pk,
                                            unpaid.pk]).values_list("pk", flat=True))
    assert held == {affected.pk}
    event = OrderEvent.objects.get(order=affected, kind="recall")
    assert event.note == "农药残留超标" and event.actor == province.a_manager
    assert not OrderEvent.objects.filter(order=other_product, kind="recall").exists()

    response = buyer_api.post("/api/v1/checkouts/", {"delivery": DELIVERY}, format="json")
    assert response.status_code == 400
    assert "该商品已召回" in response.json()["message"]
    assert "甲县苹果" in response.json()["message"]

    # The buyer of the held order is told, once however often the notices run.
    assert deliver_recall_notices(body["id"]) == 1
    assert deliver_recall_notices(body["id"]) == 0
    assert Notification.objects.filter(user=affected.buyer, kind=Kind.ORDER_RECALLED).count() == 1

    # The trace page says so in red.
    page = api_on(None).get(f"/trace/{batch.trace_token}/")
    assert page.status_code == 200 and 'id="batch-recalled"' in page.content.decode()


def test_settlement_skips_held_orders_with_the_reason_and_pays_them_after_release(
        province, shop, api_on):
    pears = product_with_sku(shop.merchant_a, name="甲县酥梨", price="30.00", stock=10)
    batch = batch_of(shop.sku_a)
    recalled = completed(paid_order(province, shop.sku_a))
    fine = completed(paid_order(province, pears))
    staff = api_on(province.bank_a, province.a_admin)
    recall_id = open_recall(staff, [batch]).json()["id"]

    run = run_settlement(province.bank_a)
    assert SettlementItem.objects.filter(order=fine).exists()
    assert not SettlementItem.objects.filter(order=recalled).exists()
    hold = SettlementHold.objects.get(run=run, order=recalled)
    assert hold.reason == OrderHold.RECALL
    detail = staff.get(f"/api/v1/console/settlement-runs/{run.pk}/").json()
    held = [h for h in detail["held"] if h["order"] == recalled.number]
    assert held and held[0]["reason"] == "recall" and held[0]["reason_display"]

    response = staff.post(f"/api/v1/console/recalls/{recall_id}/close/",
                          {"resolution": "release", "note": "复检合格"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "closed"
    assert response.json()["closed_by"] == province.a_admin.username
    recalled.refresh_from_db()
    assert recalled.held_reason == "" and recalled.held_at is None
    assert Batch.objects.get(pk=batch.pk).recalled_at is None

    run_settlement(province.bank_a)
    item = SettlementItem.objects.get(order=recalled)
    assert item.released == recalled.total

    # A closed recall cannot be closed again: 400, nothing changes.
    again = staff.post(f"/api/v1/console/recalls/{recall_id}/close/",
                       {"resolution": "refund_all"}, format="json")
    assert again.status_code == 400
    assert Recall.objects.get(pk=recall_id).resolution == "release"


def test_refund_all_refunds_every_held_order_through_the_ledger(province, shop, api_on):
    batch = batch_of(shop.sku_a)
    first = paid_order(province, shop.sku_a, quantity=2)
    second = completed(paid_order(province, shop.sku_a))
    # The buyer of a third asked for part of the money back already.
    third = paid_order(province, shop.sku_a)
    orders.refund_request(order=third, actor=third.buyer, amount="10.00", reason="坏了一个")
    staff = api_on(province.bank_a, province.a_admin)
    recall_id = open_recall(staff, [batch]).json()["id"]

    response = staff.post(f"/api/v1/console/recalls/{recall_id}/close/",
                          {"resolution": "refund_all"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["orders_refunded"] == 3
    for order in (first, second, third):
        order.refresh_from_db()
        assert order.status == OrderStatus.REFUNDED
        assert order.refunded_total == order.total
        assert order.held_reason == ""
        refunds = Refund.objects.filter(order=order, status=RefundStatus.SUCCEEDED)
        assert refunds.aggregate(t=Sum("amount"))["t"] == order.total
        # Every ledger transaction touching the order balances to the fen.
        for txn in Posting.objects.filter(order_id=order.pk).values_list(
                "transaction_id", flat=True).distinct():
            assert Posting.objects.filter(transaction_id=txn).aggregate(
                t=Sum("amount"))["t"] == 0
    # Everything the order moved into escrow went back out: nothing of it is left held.
    escrow = Posting.objects.filter(order_id=first.pk, account__kind="escrow").aggregate(
        t=Sum("amount"))["t"]
    assert escrow == 0


def test_the_buyer_sees_the_recall_and_applies_for_a_refund(province, shop, api_on,
                                                            client_on):
    batch = batch_of(shop.sku_a)
    order = paid_order(province, shop.sku_a)
    open_recall(api_on(province.bank_a, province.a_admin), [batch])
    page = client_on(province.bank_a, order.buyer)
    html = page.get(f"/orders/{order.number}/").content.decode()
    assert 'id="recall-notice"' in html and "申请退款" in html and "农药残留超标" in html
    response = page.post(f"/orders/{order.number}/refund/",
                         {"amount": str(order.total), "reason": "召回退款"})
    assert response.status_code in (200, 302)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUND_REQUESTED


def test_who_may_recall_what(province, shop, api_on, client_on):
    batch_a = batch_of(shop.sku_a)
    batch_b = batch_of(shop.sku_b)
    # Bank B's staff cannot recall bank A's merchant's batch: 404, nothing written.
    response = open_recall(api_on(province.bank_b, province.b_admin), [batch_a])
    assert response.status_code == 404
    assert not Recall.objects.filter(batches=batch_a).exists()
    # Unknown batch, no batch, no reason: 400 naming the field.
    staff = api_on(province.bank_a, province.a_admin)
    response = open_recall(staff, [Batch.objects.order_by("-pk").first().pk + 1000])
    assert response.status_code == 400 and "batches" in response.json()["errors"]
    response = staff.post("/api/v1/console/recalls/", {"batches": [], "reason": "x"},
                          format="json")
    assert response.status_code == 400 and "batches" in response.json()["errors"]
    response = staff.post("/api/v1/console/recalls/", {"batches": [batch_a.pk], "reason": ""},
                          format="json")
    assert response.status_code == 400 and "reason" in response.json()["errors"]
    # A credit officer may not; a shopper is not staff (404).
    assert open_recall(api_on(province.bank_a, province.a_credit), [batch_a]).status_code == 403
    assert open_recall(api_on(province.bank_a, new_buyer()), [batch_a]).status_code == 404
    # The federation recalls any batch; each bank sees the recall of its own merchant.
    fed = api_on(None, province.fed_admin)
    response = fed.post("/api/v1/federation/recalls/",
                        {"batches": [batch_a.pk, batch_b.pk], "reason": "抽检不合格"},
                        format="json")
    assert response.status_code == 201, response.json()
    recall_id = response.json()["id"]
    assert response.json()["bank"] is None
    listed = staff.get("/api/v1/console/recalls/").json()
    assert recall_id in [r["id"] for r in listed]
    # ...but a bank does not close the federation's recall (404).
    response = staff.post(f"/api/v1/console/recalls/{recall_id}/close/",
                          {"resolution": "release"}, format="json")
    assert response.status_code == 404
    assert Recall.objects.get(pk=recall_id).status == RecallStatus.OPEN
    # Pages: the console and the federation lists; a bad form is shown with its message.
    console = client_on(province.bank_a, province.a_admin)
    page = console.get("/console/recalls/")
    assert page.status_code == 200 and "抽检不合格" in page.content.decode()
    refused = console.post("/console/recalls/", {"reason": "x"})
    assert refused.status_code == 400 and "请选择要召回的批次" in refused.content.decode()
    assert client_on(province.bank_b, province.b_admin).post(
        "/console/recalls/", {"batches": [batch_a.pk], "reason": "x"}).status_code == 404
    federation = client_on(None, province.fed_admin)
    assert federation.get("/federation/recalls/").status_code == 200
    assert federation.post(f"/federation/recalls/{recall_id}/close/",
                           {"resolution": "release"}).status_code == 302
    assert Recall.objects.get(pk=recall_id).status == RecallStatus.CLOSED


def test_lab_reports_are_validated_and_shown(province, shop, api_on):
    batch = batch_of(shop.sku_a)
    merchant = shop.merchant_a
    api = api_on(province.bank_a, owner(merchant))
    url = (f"/api/v1/merchant/{merchant.pk}/products/{shop.sku_a.product_id}/batches/"
           f"{batch.pk}/lab-reports/")
    good = {"lab_name": "甲县农产品检测中心", "tested_on": str(timezone.localdate()),
            "tested_by": "李检", "results": [
                {"item": "农药残留", "value": "0.01", "unit": "mg/kg", "limit": "0.05",
                 "passed": True},
                {"item": "重金属", "value": "0.02", "unit": "mg/kg", "limit": "0.1",
                 "passed": True}]}
    bad_date = api.post(url, {**good, "tested_on": "2026-13-45"}, format="json")
    assert bad_date.status_code == 400 and "tested_on" in bad_date.json()["errors"]
    no_results = api.post(url, {**good, "results": []}, format="json")
    assert no_results.status_code == 400 and "results" in no_results.json()["errors"]
    assert not batch.lab_reports.exists()
    with pytest.raises(ValidationError) as exc:
        lab_report_add(batch=batch, lab_name="x",
                       tested_on=timezone.localdate() + timedelta(days=1),
                       results=good["results"])
    assert "tested_on" in exc.value.message_dict

    response = api.post(url, good, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["passed"] is True and len(response.json()["results"]) == 2
    failing = {**good, "results": [*good["results"][:1],
                                   {"item": "水分", "value": "18", "unit": "%",
                                    "limit": "14", "passed": False}]}
    assert api.post(url, failing, format="json").json()["passed"] is False
    page = api_on(None).get(f"/trace/{batch.trace_token}/").content.decode()
    assert "甲县农产品检测中心" in page and "水分" in page
    # Another shop's member gets 404.
    other = api_on(province.bank_a, owner(shop.merchant_b))
    assert other.post(url, good, format="json").status_code == 404


def test_lots_without_a_passing_report_do_not_sell_where_the_bank_says_so(province, shop,
                                                                          api_on):
    bank_set_listing_policy(bank=province.bank_a, requires_review=True,
                            requires_passing_lab_report=True, acting_user=province.a_admin)
    batch = batch_of(shop.sku_a)
    buyer = api_on(province.bank_a, new_buyer())
    assert buyer.post("/api/v1/cart/items/", {"sku": shop.sku_a.pk, "quantity": 1},
                      format="json").status_code == 201
    response = buyer.post("/api/v1/checkouts/", {"delivery": DELIVERY}, format="json")
    assert response.status_code == 400
    assert "甲县苹果" in response.json()["message"]
    # A failing report does not help; a passing one on the lot on sale does.
    rows = [{"item": "农药残留", "value": "0.2", "limit": "0.05", "passed": False}]
    lab_report_add(batch=batch, lab_name="检测中心", tested_on=datetime.date.today(),
                   results=rows)
    assert buyer.post("/api/v1/checkouts/", {"delivery": DELIVERY},
                      format="json").status_code == 400
    lab_report_add(batch=batch, lab_name="检测中心", tested_on=datetime.date.today(),
                   results=[{**rows[0], "value": "0.01", "passed": True}])
    response = buyer.post("/api/v1/checkouts/", {"delivery": DELIVERY}, format="json")
    assert response.status_code == 201, response.json()
    # Bank B's merchant (no such policy) sells without any report.
    other = api_on(province.bank_a, new_buyer())
    other.post("/api/v1/cart/items/", {"sku": shop.sku_b.pk, "quantity": 1}, format="json")
    assert other.post("/api/v1/checkouts/", {"delivery": DELIVERY},
                      format="json").status_code == 201


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_recalls_load_once_through_the_services(province, shop):
    sold = batch_of(shop.sku_a)
    held = paid_order(province, shop.sku_a)
    quiet = product_with_sku(shop.merchant_b, name="乙县土蜂蜜", price="88.00", stock=5)
    batch_of(quiet)

    assert load_demo_recalls(banks=[province.bank_a, province.bank_b]).counts == {"recalls": 2}
    demo = Recall.objects.filter(reason__in=[OPEN_REASON, RELEASED_REASON])
    opened = demo.get(status=RecallStatus.OPEN)
    assert opened.bank_id == province.bank_a.pk and opened.opened_by_id == province.a_admin.pk
    assert list(opened.batches.all()) == [sold] and opened.orders_held == 1
    held.refresh_from_db()
    assert held.held_reason == OrderHold.RECALL
    assert Product.objects.get(pk=shop.sku_a.product_id).status == ProductStatus.DELISTED
    closed = demo.get(status=RecallStatus.CLOSED)
    assert closed.bank_id is None and closed.resolution == "release"
    assert closed.orders_held == 0 and closed.closed_by.is_federation_admin
    assert load_demo_recalls(banks=[province.bank_a, province.bank_b]).counts == {"recalls": 0}
    assert demo.count() == 2
