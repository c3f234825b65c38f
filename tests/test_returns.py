"""After-sales returns through the real services, database and card server: asked for by
the buyer, decided by the shop, sent back with a waybill, refunded through the order's
refund path when the shop has the goods (gateway, ledger to the fen) and restocked once;
what is refused is refused with a 400 and changes nothing; other people get 404."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.services import user_register
from catalog.models import Product, Sku
from core.errors import ApplicationError
from fixtures.returns_demo import DEMO_SHOPPERS, load_demo_returns
from orders import services as orders
from orders.models import Order, OrderEvent, OrderStatus, Refund, ReturnRequest
from payments import selectors as ledger
from payments import settlement
from payments.gateway import stripe_client
from tests import unique
from tests.orders_factories import market, pay, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(province):
    return market(province)


def owner(merchant):
    return merchant.members.get().user


def new_buyer():
    return user_register(username=f"buyer-{unique.tag(8)}", password="Test@pass-2026")


def figures(sku) -> tuple[int, int, int]:
    sku = Sku.objects.get(pk=sku.pk)
    return sku.on_hand, sku.reserved, sku.stock


def delivered(province, shop, buyer, quantity=2, *, confirm=True) -> Order:
    """Apples bought on bank A's storefront, shipped, delivered (and receipt confirmed)."""
    checkout = place(buyer, province.bank_a, [(shop.sku_a, quantity)])
    pay(checkout)
    order = checkout.orders.get()
    seller = owner(shop.merchant_a)
    orders.order_ship(order=order, actor=seller, carrier="顺丰速运",
                      tracking_number=f"SF{order.pk:010d}")
    orders.order_track(order=order, actor=seller, description="已签收", delivered=True)
    if confirm:
        orders.order_confirm_receipt(order=order, actor=buyer)
    order.refresh_from_db()
    return order


def jpeg(name="photo.jpg") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "JPEG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def returns_url(order, *rest) -> str:
    return "/api/v1/orders/" + "/".join([order.number, "returns", *map(str, rest)]) + "/"


def merchant_url(merchant, *rest) -> str:
    return "/api/v1/merchant/" + "/".join([str(merchant.pk), "returns", *map(str, rest)]) + "/"


def test_a_return_from_request_to_refund_restocks_once_and_balances(province, shop, api_on,
                                                                   client_on):
    buyer = new_buyer()
    order = delivered(province, shop, buyer)
    # 2 x 45.50 + 8.00 delivery (under the free-delivery threshold).
    assert (order.goods_total, order.shipping_fee) == (Decimal("91.00"), Decimal("8.00"))
    line = order.lines.get()
    assert figures(shop.sku_a) == (18, 0, 18)
    api = api_on(province.bank_a, buyer)

    created = api.post(returns_url(order), {
        "lines": [{"line": line.pk, "quantity": 1}], "reason": "damaged",
        "description": "一箱压坏了"}, format="json")
    assert created.status_code == 201, created.content
    ret = created.json()
    assert (ret["status"], ret["amount"]) == ("requested", "45.50")
    photo = api.post(returns_url(order, ret["id"], "photos"), {"image": jpeg()},
                     format="multipart")
    assert photo.status_code == 201, photo.content
    assert len(photo.json()["photos"]) == 1
    # The photo is served to the buyer (signed in on the storefront) as a picture.
    served = client_on(province.bank_a, buyer).get(photo.json()["photos"][0]["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"

    seller = api_on(province.bank_a, owner(shop.merchant_a))
    listed = seller.get(merchant_url(shop.merchant_a), {"status": "requested"})
    assert [r["id"] for r in listed.json()["results"]] == [ret["id"]]
    assert seller.post(merchant_url(shop.merchant_a, ret["id"], "decide"),
                       {"approve": True}, format="json").json()["status"] == "approved"
    # Not received yet: nothing to confirm.
    assert seller.post(merchant_url(shop.merchant_a, ret["id"], "receive")).status_code == 400
    shipped = api.post(returns_url(order, ret["id"], "ship-back"),
                       {"carrier": "中国邮政", "tracking_number": "YZ123456789"}, format="json")
    assert shipped.json()["status"] == "shipped_back"

    escrow = ledger.escrow_by_bank()[province.bank_a.pk]
    received = seller.post(merchant_url(shop.merchant_a, ret["id"], "receive"))
    assert received.status_code == 200, received.content
    assert received.json()["status"] == "refunded"

    refund = Refund.objects.get(pk=received.json()["refund"])
    assert (refund.order_id, refund.status, refund.amount) == (order.pk, "succeeded",
                                                               Decimal("45.50"))
    gateway = stripe_client().v1.refunds.retrieve(refund.gateway_reference)
    assert gateway.amount == 4550
    assert ledger.escrow_by_bank()[province.bank_a.pk] == escrow - Decimal("45.50")
    assert ledger.trial_balance() == Decimal("0.00")
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (OrderStatus.COMPLETED, Decimal("45.50"))
    assert figures(shop.sku_a) == (19, 0, 19)

    # Confirming again is refused and changes nothing: no second refund, no second unit.
    again = seller.post(merchant_url(shop.merchant_a, ret["id"], "receive"))
    assert again.status_code == 400
    assert figures(shop.sku_a) == (19, 0, 19)
    assert order.refunds.count() == 1
    kinds = list(OrderEvent.objects.filter(order=order, kind__startswith="return_")
                 .values_list("kind", flat=True))
    assert kinds == ["return_requested", "return_approved", "return_shipped_back",
                     "return_received", "return_refunded"]

    # The other box may still be returned; the one returned may not.
    assert api.post(returns_url(order), {"lines": [{"line": line.pk, "quantity": 2}],
                                         "reason": "quality"}, format="json").status_code == 400
    assert api.post(returns_url(order), {"lines": [{"line": line.pk, "quantity": 1}],
                                         "reason": "quality"}, format="json").status_code == 201


def test_a_second_return_of_the_same_goods_or_more_than_bought_is_refused(province, shop,
                                                                          api_on):
    buyer = new_buyer()
    order = delivered(province, shop, buyer)
    line = order.lines.get()
    api = api_on(province.bank_a, buyer)
    too_many = api.post(returns_url(order), {"lines": [{"line": line.pk, "quantity": 3}],
                                             "reason": "quality"}, format="json")
    assert too_many.status_code == 400
    assert "lines" in too_many.json()["errors"]
    assert not ReturnRequest.objects.filter(order=order).exists()

    assert api.post(returns_url(order), {"lines": [{"line": line.pk, "quantity": 2}],
                                         "reason": "quality"}, format="json").status_code == 201
    second = api.post(returns_url(order), {"lines": [{"line": line.pk, "quantity": 1}],
                                           "reason": "quality"}, format="json")
    assert second.status_code == 400
    assert "lines" in second.json()["errors"]
    assert ReturnRequest.objects.filter(order=order).count() == 1
    # Bad input of other kinds: 400 with the field, nothing written.
    for body in ({"lines": [{"line": line.pk + 10**6, "quantity": 1}], "reason": "quality"},
                 {"lines": [], "reason": "quality"},
                 {"lines": [{"line": line.pk, "quantity": 1}], "reason": "whim"},
                 {"lines": [{"line": line.pk, "quantity": 1}], "reason": "other"}):
        assert api.post(returns_url(order), body, format="json").status_code == 400
    assert ReturnRequest.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, kind="return_requested").count() == 1


def test_only_the_buyer_and_the_shop_see_a_return(province, shop, api_on):
    buyer = new_buyer()
    order = delivered(province, shop, buyer)
    line = order.lines.get()
    body = {"lines": [{"line": line.pk, "quantity": 1}], "reason": "quality"}
    assert api_on(province.bank_a, new_buyer()).post(
        returns_url(order), body, format="json").status_code == 404
    ret = api_on(province.bank_a, buyer).post(returns_url(order), body, format="json").json()
    stranger = api_on(province.bank_a, new_buyer())
    assert stranger.post(returns_url(order, ret["id"], "withdraw")).status_code == 404
    assert stranger.post(returns_url(order, ret["id"], "ship-back"),
                         {"carrier": "邮政", "tracking_number": "X1"},
                         format="json").status_code == 404

    # Another shop's member, and the shop's own member on another bank's domain.
    other = api_on(province.bank_b, owner(shop.merchant_b))
    assert other.post(merchant_url(shop.merchant_b, ret["id"], "decide"),
                      {"approve": True}, format="json").status_code == 404
    assert other.get(merchant_url(shop.merchant_b)).json()["results"] == []
    assert api_on(province.bank_b, owner(shop.merchant_a)).post(
        merchant_url(shop.merchant_a, ret["id"], "decide"), {"approve": True},
        format="json").status_code == 404
    assert ReturnRequest.objects.get(pk=ret["id"]).status == "requested"


def test_a_refusal_needs_a_note_and_the_buyer_may_ask_again(province, shop, api_on,
                                                            client_on):
    buyer = new_buyer()
    order = delivered(province, shop, buyer)
    line = order.lines.get()
    body = {"lines": [{"line": line.pk, "quantity": 2}], "reason": "changed_mind"}
    ret = api_on(province.bank_a, buyer).post(returns_url(order), body, format="json").json()
    seller = api_on(province.bank_a, owner(shop.merchant_a))
    url = merchant_url(shop.merchant_a, ret["id"], "decide")
    silent = seller.post(url, {"approve": False, "note": " "}, format="json")
    assert silent.status_code == 400
    assert "note" in silent.json()["errors"]
    assert ReturnRequest.objects.get(pk=ret["id"]).status == "requested"
    refused = seller.post(url, {"approve": False, "note": "已拆封食品不退"}, format="json")
    assert refused.json()["status"] == "refused"
    assert OrderEvent.objects.get(order=order, kind="return_refused").note == "已拆封食品不退"
    page = client_on(province.bank_a, buyer).get(f"/orders/{order.number}/")
    assert "已拆封食品不退" in page.content.decode()
    # A refused return does not count: the goods may be asked for again.
    assert api_on(province.bank_a, buyer).post(returns_url(order), body,
                                               format="json").status_code == 201


def test_returns_close_after_the_window_and_before_receipt(province, shop, api_on, settings):
    settings.ORDER_RETURN_DAYS = 7
    buyer = new_buyer()
    order = delivered(province, shop, buyer)
    line = order.lines.get()
    body = {"lines": [{"line": line.pk, "quantity": 1}], "reason": "quality"}
    Order.objects.filter(pk=order.pk).update(
        received_at=timezone.now() - timedelta(days=7, minutes=1))
    late = api_on(province.bank_a, buyer).post(returns_url(order), body, format="json")
    assert late.status_code == 400
    assert "7" in late.json()["message"]
    assert not ReturnRequest.objects.filter(order=order).exists()

    # Shipped but not delivered yet: nothing to return.
    checkout = place(buyer, province.bank_a, [(shop.sku_a, 1)])
    pay(checkout)
    on_the_way = checkout.orders.get()
    orders.order_ship(order=on_the_way, actor=owner(shop.merchant_a), carrier="邮政",
                      tracking_number="YZ0000001")
    early = api_on(province.bank_a, buyer).post(returns_url(on_the_way), {
        "lines": [{"line": on_the_way.lines.get().pk, "quantity": 1}], "reason": "quality"},
        format="json")
    assert early.status_code == 400


def test_an_open_return_holds_the_order_out_of_settlement(province, shop):
    buyer = new_buyer()
    order = delivered(province, shop, buyer)
    ret = orders.return_request(order=order, actor=buyer, reason="quality",
                                lines={order.lines.get().pk: 1})
    run = settlement.settlement_run_start(bank=province.bank_a, cutoff=timezone.now())
    assert not settlement.settleable_orders(run).filter(pk=order.pk).exists()
    assert settlement.settle_order(run=run, order_id=order.pk) is None
    orders.return_withdraw(return_request=ret, actor=buyer)
    assert settlement.settleable_orders(run).filter(pk=order.pk).exists()
    assert OrderEvent.objects.filter(order=order, kind="return_withdrawn").exists()
    # Withdrawn: neither approved nor sent back any more.
    with pytest.raises(ApplicationError) as err:
        orders.return_ship_back(return_request=ret, actor=buyer, carrier="邮政",
                                tracking_number="YZ1")
    assert getattr(err.value, "code", "") == "illegal_transition"


def test_a_refund_of_goods_never_shipped_puts_them_back_on_sale(province, shop):
    buyer = new_buyer()
    checkout = place(buyer, province.bank_a, [(shop.sku_a, 3)])
    pay(checkout)
    order = checkout.orders.get()
    assert figures(shop.sku_a) == (20, 3, 17)
    refund = orders.refund_request(order=order, actor=buyer, amount="10.00", reason="少发")
    orders.refund_decide(refund=refund, actor=owner(shop.merchant_a), approve=True)
    assert figures(shop.sku_a) == (20, 3, 17)  # in part: still to be shipped
    order.refresh_from_db()
    refund = orders.refund_request(order=order, actor=buyer, amount=order.refundable,
                                   reason="不要了")
    orders.refund_decide(refund=refund, actor=owner(shop.merchant_a), approve=True)
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert figures(shop.sku_a) == (20, 0, 20)
    assert ledger.trial_balance() == Decimal("0.00")

    # Refunded in full in the gateway's own dashboard (recorded from its webhook): alike.
    checkout = place(buyer, province.bank_a, [(shop.sku_a, 2)])
    pay(checkout)
    assert figures(shop.sku_a) == (20, 2, 18)
    order = checkout.orders.get()
    orders.refund_record_external(order=order, amount=order.total, reference="re_outside",
                                  reason="dashboard")
    assert figures(shop.sku_a) == (20, 0, 20)


def test_the_pages_ask_decide_send_back_and_receive(province, shop, client_on):
    buyer = new_buyer()
    order = delivered(province, shop, buyer, confirm=False)  # delivered, not confirmed
    line = order.lines.get()
    page = client_on(province.bank_a, buyer)
    html = page.get(f"/orders/{order.number}/").content.decode()
    assert f'action="/orders/{order.number}/returns/"' in html

    bad = page.post(f"/orders/{order.number}/returns/", {f"qty_{line.pk}": "5",
                                                        "reason": "damaged"})
    assert bad.status_code == 400
    assert "errorlist" in bad.content.decode()
    assert not ReturnRequest.objects.filter(order=order).exists()
    done = page.post(f"/orders/{order.number}/returns/", {
        f"qty_{line.pk}": "2", "reason": "damaged", "description": "碎了",
        "photos": [jpeg("a.jpg"), jpeg("b.jpg")]})
    assert done.status_code == 302
    ret = ReturnRequest.objects.get(order=order)
    assert ret.photos.count() == 2 and ret.amount == Decimal("91.00")

    seller = client_on(province.bank_a, owner(shop.merchant_a))
    listing = seller.get(f"/merchant/{shop.merchant_a.pk}/returns/")
    assert "碎了" in listing.content.decode()
    photo = ret.photos.first()
    served = seller.get(f"/merchant/{shop.merchant_a.pk}/returns/{ret.pk}/photos/{photo.pk}/")
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert client_on(province.bank_a, new_buyer()).get(
        f"/orders/{order.number}/returns/{ret.pk}/photos/{photo.pk}/").status_code == 404
    refuse = seller.post(f"/merchant/{shop.merchant_a.pk}/returns/{ret.pk}/decide/",
                         {"decision": "refuse", "note": ""})
    assert refuse.status_code == 400
    seller.post(f"/merchant/{shop.merchant_a.pk}/returns/{ret.pk}/decide/",
                {"decision": "approve", "note": ""})
    ret.refresh_from_db()
    assert ret.status == "approved"

    empty = page.post(f"/orders/{order.number}/returns/{ret.pk}/ship-back/",
                      {"carrier": "", "tracking_number": ""})
    assert empty.status_code == 400
    page.post(f"/orders/{order.number}/returns/{ret.pk}/ship-back/",
              {"carrier": "中国邮政", "tracking_number": "YZ99"})
    seller.post(f"/merchant/{shop.merchant_a.pk}/returns/{ret.pk}/receive/")
    ret.refresh_from_db()
    order.refresh_from_db()
    assert ret.status == "refunded"
    assert order.refunded_total == Decimal("91.00")
    assert figures(shop.sku_a) == (20, 0, 20)
    html = page.get(f"/orders/{order.number}/").content.decode()
    assert "YZ99" in html


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_returns_load_once_through_the_services(province, shop):
    ReturnRequest.objects.filter(order__buyer__username__in=DEMO_SHOPPERS).delete()
    User = get_user_model()
    for name in ("shopper-li", "shopper-wang"):
        buyer = User.objects.filter(username=name).first() or user_register(
            username=name, password=province.password)
        delivered(province, shop, buyer, quantity=2)

    first = load_demo_returns()
    assert first.counts == {"returns": 2}
    made = ReturnRequest.objects.filter(order__buyer__username__in=DEMO_SHOPPERS)
    assert sorted(made.values_list("status", flat=True)) == ["requested", "shipped_back"]
    sent = made.get(status="shipped_back")
    assert (sent.carrier, sent.decided_by_id is not None) == ("中国邮政", True)
    assert OrderEvent.objects.filter(order=sent.order, kind="return_shipped_back").exists()
    assert load_demo_returns().counts == {"returns": 0}
    assert made.count() == 2


def test_steps_nobody_takes_in_time_are_taken_by_the_clock_once(province, shop):
    """The shop silent on a request: approved; approved goods never sent: closed; goods
    sent back and never confirmed: received, restocked, refunded and off the sales."""
    seller = owner(shop.merchant_a)
    returns = {}
    for plan in ("unanswered", "never_sent", "never_confirmed"):
        buyer = new_buyer()
        order = delivered(province, shop, buyer, quantity=1)
        ret = orders.return_request(order=order, actor=buyer,
                                    lines={order.lines.get().pk: 1}, reason="damaged")
        if plan != "unanswered":
            ret = orders.return_decide(return_request=ret, actor=seller, approve=True)
        if plan == "never_confirmed":
            ret = orders.return_ship_back(return_request=ret, actor=buyer, carrier="中国邮政",
                                          tracking_number="YZ1")
        returns[plan] = ret
    shelf = figures(shop.sku_a)
    sales = Product.objects.get(pk=shop.sku_a.product_id).sales_count
    escrow = ledger.escrow_by_bank()[province.bank_a.pk]

    assert orders.returns_time_out() == {"received": 0, "lapsed": 0, "approved": 0}
    later = timezone.now() + timedelta(days=11)
    assert orders.returns_time_out(now=later) == {"received": 1, "lapsed": 1, "approved": 1}

    for ret in returns.values():
        ret.refresh_from_db()
    assert returns["unanswered"].status == "approved"
    assert returns["unanswered"].decided_by_id is None  # the clock, not a person
    assert returns["unanswered"].decision_note
    assert returns["never_sent"].status == "lapsed"
    assert returns["never_sent"].closed_at is not None
    done = returns["never_confirmed"]
    assert (done.status, done.refund.amount) == ("refunded", Decimal("45.50"))
    assert figures(shop.sku_a) == (shelf[0] + 1, shelf[1], shelf[2] + 1)
    assert Product.objects.get(pk=shop.sku_a.product_id).sales_count == sales - 1
    assert ledger.escrow_by_bank()[province.bank_a.pk] == escrow - Decimal("45.50")
    assert ledger.trial_balance() == Decimal("0.00")
    assert OrderEvent.objects.filter(order=returns["never_sent"].order,
                                     kind="return_lapsed").count() == 1
    # Run again at once: nothing more happens.
    assert orders.returns_time_out() == {"received": 0, "lapsed": 0, "approved": 0}
