"""The points pages on a bank's domain and the points console, through the real
services, database and local card server: my points, the mall (segment-filtered, flash),
redeeming with a pickup branch and a card for the cash part, points at checkout from the
pay page, the console's programme, offers and pickup desk; bad input is a 400 with
nothing changed; another bank's staff get 404, a role too low 403."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from config import urls_bank
from rewards.models import EarningRule, MallOffer, PointsProgramme, Redemption
from tests.lending_factories import buyer
from tests.orders_factories import market, place
from tests.rewards_factories import balance, grant, offer

pytestmark = pytest.mark.django_db

GOOD = {"number": "4242 4242 4242 4242", "exp": "12/34", "cvc": "123"}
DECLINED = {"number": "4000 0000 0000 0341", "exp": "12/34", "cvc": "123"}


def test_my_points_shows_balance_history_and_what_expires_next(province, client_on):
    user = buyer()
    soon = timezone.localdate() - timedelta(days=350)
    grant(province.bank_a, user, 120, on=soon)
    grant(province.bank_a, user, 30)
    page = client_on(province.bank_a, user).get("/points/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="balance">150<' in html
    assert "测试积分" in html
    expiring = page.context["expiring"]
    assert expiring["points"] == 120 and expiring["on"] > timezone.localdate()
    # Bank B's domain: its own programme, where this customer has nothing.
    other = client_on(province.bank_b, user).get("/points/")
    assert 'id="balance">0<' in other.content.decode()
    # Anonymous: log in first; the portal has no points pages.
    assert client_on(province.bank_a).get("/points/").status_code == 302
    assert client_on(None, user).get("/points/").status_code == 404


def test_the_mall_shows_my_groups_offers_and_redeeming_takes_points_for_a_branch(
        province, client_on):
    shop = market(province)
    bank, user = province.bank_a, buyer()
    grant(bank, user, 500)
    everyone = offer(bank, shop.merchant_a, shop.sku_a, title="苹果闪兑", is_flash=True)
    villagers = offer(bank, shop.merchant_a, shop.sku_a, title="村民专享",
                      segments=["villager"])
    client = client_on(bank, user)
    mall = client.get("/points/mall/")
    html = mall.content.decode()
    assert mall.status_code == 200 and "苹果闪兑" in html and "村民专享" not in html
    assert client.get(f"/points/mall/{villagers.pk}/").status_code == 404

    url = f"/points/mall/{everyone.pk}/"
    # Bad input: 400, nothing taken.
    for data in ({"quantity": "0", "branch": province.a_branch.pk},
                 {"quantity": "abc", "branch": province.a_branch.pk},
                 {"quantity": "1", "branch": province.b_branch.pk},  # another bank's
                 {"quantity": "1"}, {"quantity": "1", "branch": "9" * 30},
                 {"quantity": "3", "branch": province.a_branch.pk}):  # over the limit of 2
        assert client.post(url, data).status_code == 400, data
    assert balance(bank, user) == 500
    with schema_context(bank.schema_name):
        assert not Redemption.objects.filter(user_id=user.pk).exists()

    done = client.post(url, {"quantity": "2", "branch": province.a_branch.pk})
    assert done.status_code == 302
    with schema_context(bank.schema_name):
        redemption = Redemption.objects.get(user_id=user.pk)
        everyone.refresh_from_db()
    assert (redemption.points, redemption.status, everyone.redeemed) == (200, "ready", 2)
    assert balance(bank, user) == 300
    page = client.get(done["Location"])
    assert redemption.pickup_code in page.content.decode()
    assert redemption.pickup_code in client.get("/points/redemptions/").content.decode()
    # Someone else's redemption does not exist for me.
    assert client_on(bank, buyer()).get(done["Location"]).status_code == 404

    # The villager sees their offer.
    user.segment = "villager"
    user.save(update_fields=["segment"])
    assert "村民专享" in client.get("/points/mall/").content.decode()


def test_a_points_plus_cash_redemption_is_paid_by_card_and_collected_at_the_desk(
        province, client_on):
    shop = market(province)
    bank, user = province.bank_a, buyer()
    grant(bank, user, 300)
    item = offer(bank, shop.merchant_a, shop.sku_a, title="苹果加钱购",
                 cash_price=Decimal("9.90"))
    client = client_on(bank, user)
    client.post(f"/points/mall/{item.pk}/", {"quantity": "1", "branch": province.a_branch.pk})
    with schema_context(bank.schema_name):
        redemption = Redemption.objects.get(user_id=user.pk)
    assert redemption.status == "awaiting_cash"
    page = client.get(f"/points/redemptions/{redemption.pk}/")
    assert "4242 4242 4242 4242" in page.content.decode()  # the test cards are listed
    pay_url = f"/points/redemptions/{redemption.pk}/pay/"
    declined = client.post(pay_url, {**DECLINED, "idempotency_key": "k1"})
    assert declined.status_code == 400
    bad = client.post(pay_url, {**GOOD, "number": "", "idempotency_key": "k2"})
    assert bad.status_code == 400
    redemption.refresh_from_db()
    assert redemption.status == "awaiting_cash"
    paid = client.post(pay_url, {**GOOD, "idempotency_key": "k3"})
    assert paid.status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == "ready" and redemption.payment_reference

    # The desk: another bank's staff 404; a wrong code 400; the right one hands over.
    assert client_on(province.bank_a, province.b_admin).get("/console/points/").status_code \
        == 404
    desk = client_on(bank, province.a_manager)
    waiting = desk.get("/console/points/")
    assert waiting.status_code == 200 and "苹果加钱购" in waiting.content.decode()
    assert desk.post("/console/points/", {"code": "12"}).status_code == 400
    check = desk.post("/console/points/", {"code": redemption.pickup_code, "check": "1"})
    assert check.status_code == 200 and 'id="collect"' in check.content.decode()
    redemption.refresh_from_db()
    assert redemption.status == "ready"  # checking changes nothing
    assert desk.post("/console/points/", {"code": redemption.pickup_code,
                                          "collect": "1"}).status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == "collected"
    # Collected once only.
    assert desk.post("/console/points/", {"code": redemption.pickup_code,
                                          "collect": "1"}).status_code == 400


def test_points_at_checkout_from_the_pay_page(province, client_on):
    shop = market(province)
    bank, user = province.bank_a, buyer()
    grant(bank, user, 10000)
    checkout = place(user, bank, [(shop.sku_a, 2), (shop.sku_b, 1)])  # 175.00, goods 159
    client = client_on(bank, user)
    pay_url = reverse("payments:pay", args=[checkout.number], urlconf=urls_bank)
    pay_page = client.get(pay_url)
    url = f"/points/checkout/{checkout.number}/"
    assert url in pay_page.content.decode()  # the option on the pay page

    page = client.get(url)
    assert page.status_code == 200 and page.context["quote"]["max_points"] == 7950
    for data in ({"points": "7951"}, {"points": "0"}, {"points": "many"}, {}):
        assert client.post(url, data).status_code == 400, data
    checkout.refresh_from_db()
    assert checkout.points_used == 0 and balance(bank, user) == 10000

    assert client.post(url, {"points": "5000"}).status_code == 302
    checkout.refresh_from_db()
    assert (checkout.points_used, checkout.points_value, checkout.cash_due) == (
        5000, Decimal("50.00"), Decimal("125.00"))
    html = client.get(pay_url).content.decode()
    assert 'id="points-applied"' in html and "¥125.00" in html
    assert balance(bank, user) == 5000
    # Another buyer, or bank B's domain: 404.
    assert client_on(bank, buyer()).get(url).status_code == 404
    assert client_on(province.bank_b, user).get(url).status_code == 404

    assert client.post(url, {"action": "remove"}).status_code == 302
    checkout.refresh_from_db()
    assert checkout.points_used == 0 and balance(bank, user) == 10000


def test_the_console_sets_the_programme_rules_and_offers_admins_only(province, client_on):
    shop = market(province)
    bank = province.bank_a
    admin, manager = client_on(bank, province.a_admin), client_on(bank, province.a_manager)
    with schema_context(province.bank_b.schema_name):
        b_rate = PointsProgramme.objects.get().points_per_yuan
    programme = {"name": "甲行积分", "points_per_yuan": "2", "yuan_per_point": "0.01",
                 "expiry_months": "24", "sharer_points_per_yuan": "1",
                 "max_order_share": "0.30"}
    assert manager.get("/console/points/programme/").status_code == 200
    assert manager.post("/console/points/programme/", programme).status_code == 403
    assert client_on(bank, province.b_admin).get("/console/points/programme/"
                                                 ).status_code == 404
    assert client_on(bank, buyer()).get("/console/points/offers/").status_code == 404
    assert admin.post("/console/points/programme/",
                      {**programme, "max_order_share": "1.5"}).status_code == 400
    with schema_context(bank.schema_name):
        assert PointsProgramme.objects.get().rules.max_order_share == Decimal("0.50")
    assert admin.post("/console/points/programme/", programme).status_code == 302
    with schema_context(bank.schema_name):
        saved = PointsProgramme.objects.get()
        assert (saved.points_per_yuan, saved.rules.max_order_share,
                saved.rules.expiry_months) == (Decimal("2"), Decimal("0.30"), 24)
    # Bank B's programme is untouched.
    with schema_context(province.bank_b.schema_name):
        assert PointsProgramme.objects.get().points_per_yuan == b_rate

    rule = {"what": "rule", "rule-name": "水果双倍", "rule-multiplier": "2",
            "rule-category_id": str(shop.sku_a.product.category_id), "rule-is_active": "on"}
    assert admin.post("/console/points/programme/",
                      {**rule, "rule-multiplier": "0.5"}).status_code == 400
    assert admin.post("/console/points/programme/", rule).status_code == 302
    with schema_context(bank.schema_name):
        assert EarningRule.objects.get(name="水果双倍").multiplier == Decimal("2")

    now = timezone.localtime()
    data = {"title": "蜂蜜闪兑", "sku_id": str(shop.sku_b.pk), "points_price": "300",
            "cash_price": "0", "quantity": "10", "per_customer_limit": "1",
            "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "is_flash": "on", "segments": ["villager", "young"], "is_active": "on"}
    assert manager.post("/console/points/offers/new/", data).status_code == 403
    bad = [{**data, "ends_at": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")},
           {**data, "sku_id": "999999999"}, {**data, "segments": ["nobody"]},
           {**data, "points_price": "0"}]
    for d in bad:
        assert admin.post("/console/points/offers/new/", d).status_code == 400
    with schema_context(bank.schema_name):
        assert not MallOffer.objects.filter(sku_id=shop.sku_b.pk).exists()
    created = admin.post("/console/points/offers/new/", data)
    assert created.status_code == 302
    with schema_context(bank.schema_name):
        made = MallOffer.objects.get(sku_id=shop.sku_b.pk)
    assert (made.merchant_id, made.is_flash, made.segments) == (
        shop.merchant_b.pk, True, ["villager", "young"])
    assert admin.get(created["Location"]).status_code == 200
    assert admin.post(created["Location"], {**data, "quantity": "20"}).status_code == 302
    made.refresh_from_db()
    assert made.quantity == 20
    # Bank B's console has no such offer.
    assert client_on(province.bank_b, province.b_admin).get(
        f"/console/points/offers/{made.pk}/").status_code == 404
