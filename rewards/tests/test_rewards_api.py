"""The points API on a bank's domain through the real services, database and local card
server: my points and history, the mall for my customer group, redeeming (400s change
nothing), the cash part by card, points at checkout, the console's programme, earning
rules, offers and pickup desk (admins change, other staff 403, another bank 404), and
one bank's points invisible on another's domain."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import schema_context

from banks.models import BankEvent
from rewards.models import MallOffer, PointsProgramme, Redemption
from tests.lending_factories import buyer
from tests.orders_factories import market, place
from tests.rewards_factories import balance, grant, offer

pytestmark = pytest.mark.django_db

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
DECLINED = {**CARD, "number": "4000000000000341"}


def test_my_points_history_and_isolation_between_banks(province, api_on):
    user = buyer()
    grant(province.bank_a, user, 80)
    api = api_on(province.bank_a, user)
    mine = api.get("/api/v1/points/").json()
    assert mine["balance"] == 80 and mine["expiring_next"]["points"] == 80
    assert mine["max_order_share"] == "0.50"
    history = api.get("/api/v1/points/history/").json()
    assert history["total"] == 1 and history["results"][0]["kind"] == "earned"
    assert api.get("/api/v1/points/history/?page=x").status_code == 400
    other = api_on(province.bank_b, user).get("/api/v1/points/").json()
    assert other["balance"] == 0 and other["expiring_next"] is None
    assert api_on(province.bank_b, user).get("/api/v1/points/history/").json()["total"] == 0
    assert api_on(province.bank_a).get("/api/v1/points/").status_code in (401, 403)


def test_redeem_through_the_api_with_the_cash_part_by_card(province, api_on):
    shop = market(province)
    bank, user = province.bank_a, buyer()
    grant(bank, user, 250)
    plus_cash = offer(bank, shop.merchant_a, shop.sku_a, title="苹果加钱购",
                      cash_price=Decimal("5.00"))
    young = offer(bank, shop.merchant_a, shop.sku_a, title="青年专享", segments=["young"])
    api = api_on(bank, user)
    listed = {o["id"] for o in api.get("/api/v1/points/offers/").json()}
    assert plus_cash.pk in listed and young.pk not in listed
    assert api.get(f"/api/v1/points/offers/{young.pk}/").status_code == 404
    url = f"/api/v1/points/offers/{plus_cash.pk}/redeem/"
    for data in ({"quantity": 0, "branch_id": province.a_branch.pk},
                 {"quantity": 1, "branch_id": province.b_branch.pk},
                 {"quantity": 1}, {"quantity": 1, "branch_id": 10 ** 20},
                 {"quantity": 3, "branch_id": province.a_branch.pk}):  # 300 > 250 points
        response = api.post(url, data, format="json")
        assert response.status_code == 400, data
        assert "message" in response.json()
    assert balance(bank, user) == 250
    made = api.post(url, {"quantity": 1, "branch_id": province.a_branch.pk}, format="json")
    assert made.status_code == 201
    body = made.json()
    assert (body["status"], body["points"], body["cash"], body["pickup_code"]) == (
        "awaiting_cash", 100, "5.00", None)
    rid = body["id"]
    # Another customer cannot see or pay it.
    assert api_on(bank, buyer()).get(f"/api/v1/points/redemptions/{rid}/").status_code == 404
    pay = f"/api/v1/points/redemptions/{rid}/pay/"
    assert api.post(pay, {"card": CARD}, format="json").status_code == 400  # no key
    declined = api.post(pay, {"card": DECLINED}, format="json", HTTP_IDEMPOTENCY_KEY="d1")
    assert declined.status_code == 400
    assert api.get(f"/api/v1/points/redemptions/{rid}/").json()["status"] == "awaiting_cash"
    paid = api.post(pay, {"card": CARD}, format="json", HTTP_IDEMPOTENCY_KEY="p1")
    assert paid.status_code == 200 and paid.json()["status"] == "ready"
    code = paid.json()["pickup_code"]
    assert len(code) == 8
    again = api.post(pay, {"card": CARD}, format="json", HTTP_IDEMPOTENCY_KEY="p1")
    assert again.status_code == 200 and again.json()["status"] == "ready"
    # Paid in cash: it can no longer be cancelled.
    assert api.post(f"/api/v1/points/redemptions/{rid}/cancel/").status_code == 400
    assert api.get("/api/v1/points/redemptions/").json()["total"] == 1

    # The desk: bank B's staff 404 on bank A's domain; a wrong code 400; then collected.
    assert api_on(bank, province.b_admin).get(
        "/api/v1/console/points/redemptions/").status_code == 404
    desk = api_on(bank, province.a_manager)
    waiting = desk.get(f"/api/v1/console/points/redemptions/?branch_id={province.a_branch.pk}")
    assert rid in [r["id"] for r in waiting.json()]
    assert all(r["pickup_code"] is None for r in waiting.json())
    assert desk.post("/api/v1/console/points/redemptions/collect/", {"code": "00000000"},
                     format="json").status_code == 400
    done = desk.post("/api/v1/console/points/redemptions/collect/", {"code": code},
                     format="json")
    assert done.status_code == 200 and done.json()["status"] == "collected"
    with schema_context(bank.schema_name):
        assert Redemption.objects.get(pk=rid).collected_at is not None


def test_points_at_checkout_through_the_api(province, api_on):
    shop = market(province)
    bank, user = province.bank_a, buyer()
    grant(bank, user, 3000)
    checkout = place(user, bank, [(shop.sku_a, 2)])  # 91.00 goods + 8.00 delivery
    api = api_on(bank, user)
    url = f"/api/v1/points/checkouts/{checkout.number}/"
    quote = api.get(url).json()
    assert (quote["cap"], quote["max_points"], quote["cash_due"]) == ("45.50", 3000, "99.00")
    for data in ({"points": 3001}, {"points": 0}, {"points": "x"}, {}):
        assert api.put(url, data, format="json").status_code == 400, data
    assert balance(bank, user) == 3000
    applied = api.put(url, {"points": 2000}, format="json")
    assert applied.status_code == 200
    assert (applied.json()["applied"], applied.json()["cash_due"]) == (2000, "79.00")
    assert api.put(url, {"points": 1}, format="json").status_code == 400  # remove first
    assert api_on(bank, buyer()).get(url).status_code == 404
    assert api_on(province.bank_b, user).get(url).status_code == 404
    removed = api.delete(url)
    assert removed.status_code == 200 and removed.json()["applied"] == 0
    assert balance(bank, user) == 3000


def test_the_console_api_sets_programme_rules_and_offers(province, api_on):
    shop = market(province)
    bank = province.bank_a
    admin, manager = api_on(bank, province.a_admin), api_on(bank, province.a_manager)
    with schema_context(province.bank_b.schema_name):
        b_rate = PointsProgramme.objects.get().points_per_yuan
    url = "/api/v1/console/points/programme/"
    assert manager.get(url).status_code == 200
    assert manager.patch(url, {"points_per_yuan": "3"}, format="json").status_code == 403
    assert api_on(bank, province.b_admin).get(url).status_code == 404
    assert admin.patch(url, {"max_order_share": "2"}, format="json").status_code == 400
    saved = admin.patch(url, {"points_per_yuan": "3", "expiry_months": 6}, format="json")
    assert saved.status_code == 200 and saved.json()["points_per_yuan"] == "3.00"
    with schema_context(province.bank_b.schema_name):
        assert PointsProgramme.objects.get().points_per_yuan == b_rate

    rules = "/api/v1/console/points/earning-rules/"
    assert admin.post(rules, {"name": "x", "multiplier": "20"}, format="json"
                      ).status_code == 400
    assert admin.post(rules, {"name": "x", "multiplier": "2", "category_id": 999999999},
                      format="json").status_code == 400
    rule = admin.post(rules, {"name": "秋收双倍", "multiplier": "2"}, format="json")
    assert rule.status_code == 201
    assert admin.patch(f"{rules}{rule.json()['id']}/", {"is_active": False},
                       format="json").json()["is_active"] is False

    now = timezone.now()
    data = {"title": "蜂蜜闪兑", "sku_id": shop.sku_b.pk, "points_price": 500,
            "quantity": 3, "starts_at": now.isoformat(),
            "ends_at": (now + timedelta(hours=3)).isoformat(), "is_flash": True,
            "segments": ["villager"]}
    offers = "/api/v1/console/points/offers/"
    assert manager.post(offers, data, format="json").status_code == 403
    for bad in ({**data, "segments": ["aliens"]}, {**data, "sku_id": 999999999},
                {**data, "sku_id": 10 ** 20},
                {**data, "ends_at": (now - timedelta(hours=1)).isoformat()}):
        assert admin.post(offers, bad, format="json").status_code == 400
    with schema_context(bank.schema_name):
        assert not MallOffer.objects.filter(sku_id=shop.sku_b.pk).exists()
    made = admin.post(offers, data, format="json")
    assert made.status_code == 201 and made.json()["merchant_id"] == shop.merchant_b.pk
    oid = made.json()["id"]
    assert admin.patch(f"{offers}{oid}/", {"quantity": 10}, format="json"
                       ).json()["quantity"] == 10
    assert api_on(province.bank_b, province.b_admin).get(f"{offers}{oid}/").status_code == 404
    # A villager sees the flash offer on bank A's domain only.
    villager = buyer()
    villager.segment = "villager"
    villager.save(update_fields=["segment"])
    assert oid in [o["id"] for o in api_on(bank, villager).get("/api/v1/points/offers/").json()]
    assert oid not in [o["id"] for o in api_on(province.bank_b, villager).get(
        "/api/v1/points/offers/").json()]


def test_offer_numbers_and_dates_out_of_range_are_400_not_500(province, api_on):
    """A points price beyond the column and a year-535 start answered 500; every number
    and date of an offer is bounded, in the service (the page refuses them too)."""

    from rewards import services as rewards

    shop = market(province)
    bank = province.bank_a
    admin = api_on(bank, province.a_admin)
    now = timezone.now()
    data = {"title": "蜂蜜", "sku_id": shop.sku_b.pk, "points_price": 500, "quantity": 3,
            "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=3)).isoformat()}
    offers = "/api/v1/console/points/offers/"
    for field, bad in (("points_price", 223139793051558), ("quantity", 10 ** 12),
                       ("cash_price", "99999999.00"), ("per_customer_limit", 10 ** 6),
                       ("starts_at", "0535-01-01T00:00:00+08:00"),
                       ("ends_at", "9999-12-31T23:59:59+08:00")):
        response = admin.post(offers, {**data, field: bad}, format="json")
        assert response.status_code == 400, (field, response.content)
        assert response.json()["errors"][field], field
    with schema_context(bank.schema_name):
        assert not MallOffer.objects.filter(sku_id=shop.sku_b.pk).exists()
        fields = {**data, "starts_at": now, "ends_at": now + timedelta(days=3),
                  "cash_price": Decimal("0")}
        for field, bad in (("points_price", 223139793051558), ("quantity", 10 ** 12),
                           ("per_customer_limit", 4),  # more than the 3 offered
                           ("starts_at", now.replace(year=535))):
            with pytest.raises(ValidationError) as refused:
                rewards.offer_save(bank=bank, actor=province.a_admin, **{**fields, field: bad})
            assert field in refused.value.message_dict
        assert not MallOffer.objects.filter(sku_id=shop.sku_b.pk).exists()
    made = admin.post(offers, data, format="json")
    assert made.status_code == 201, made.content
    assert admin.patch(f"{offers}{made.json()['id']}/", {"points_price": 10 ** 15},
                       format="json").status_code == 400


def test_console_changes_are_audited_with_who_made_them(province, api_on):

    bank = province.bank_a
    admin = api_on(bank, province.a_admin)
    before = BankEvent.objects.filter(bank=bank).count()
    with schema_context(bank.schema_name):
        old_rate = str(PointsProgramme.objects.get().points_per_yuan)
    assert admin.patch("/api/v1/console/points/programme/", {"points_per_yuan": "4"},
                       format="json").status_code == 200
    rule = admin.post("/api/v1/console/points/earning-rules/",
                      {"name": "春耕加倍", "multiplier": "2"}, format="json").json()
    admin.patch(f"/api/v1/console/points/earning-rules/{rule['id']}/", {"is_active": False},
                format="json")
    events = list(BankEvent.objects.filter(bank=bank).order_by("id")[before:])
    assert [(e.action, e.actor_id) for e in events] == [
        ("points_programme_changed", province.a_admin.pk),
        ("earning_rule_created", province.a_admin.pk),
        ("earning_rule_changed", province.a_admin.pk)]
    was, now = events[0].detail["changes"]["points_per_yuan"]
    assert (was, Decimal(now)) == (old_rate, Decimal("4"))
    assert events[2].detail["changes"] == {"is_active": [True, False]}
    assert events[1].detail["object"] == f"rewards.earningrule:{rule['id']}"
