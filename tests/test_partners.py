"""Partner platforms: keys and their scopes, rotation and revocation, throttling, the
catalog export and change feed, the federation's page and key API."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from banks.models import BankEvent
from catalog.services import SkuSpec, product_create, product_transition, stock_set
from fixtures.partners_demo import PARTNERS, load_demo_partners
from partners.models import Partner, PartnerKey
from partners.services import (
    bank_partner_opt_out,
    key_create,
    key_rotate,
    partner_reactivate,
    partner_register,
    partner_set_banks,
    partner_suspend,
)
from tests.catalog_factories import approved_merchant, category, listed_product

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/partner/catalog/export.jsonl"
CHANGES = "/api/v1/partner/catalog/changes"
PARTNER_ENDPOINTS = [EXPORT, CHANGES]


@pytest.fixture(autouse=True)
def _feed_at_once(settings):
    settings.PARTNER_FEED_SETTLE_SECONDS = 0


def trail(partner):
    """The partner's audit events in the one audit table."""
    return BankEvent.objects.filter(detail__object=f"partners.partner:{partner.pk}")


def register(province, *, name="县电商服务中心", banks=None, **extra):
    fields = {"kind": "county_centre", "contact_name": "李四", "contact_phone": "13800000001",
              "fee_rate": "0.0150", **extra}
    return partner_register(acting_user=province.fed_admin, name=name,
                            banks=[province.bank_a] if banks is None else banks, **fields)


def new_key(province, partner, scopes=("catalog:read",), **extra):
    return key_create(partner=partner, name="主密钥", scopes=list(scopes),
                      acting_user=province.fed_admin, **extra)


def client_with(secret: str | None, *, header="bearer", host="localhost") -> APIClient:
    client = APIClient(HTTP_HOST=host)
    if secret is not None:
        if header == "bearer":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        else:
            client.credentials(HTTP_X_API_KEY=secret)
    return client


def export_lines(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/jsonl")
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines()]


def walk_changes(client, cursor="", limit=2) -> tuple[list[dict], str]:
    items = []
    while True:
        response = client.get(CHANGES, {"cursor": cursor, "limit": limit})
        assert response.status_code == 200, response.content
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return items, cursor


@pytest.fixture
def shelf(province):
    """Bank A: a merchant with three listed products and a draft; bank B: one listed."""
    merchant_a, _ = approved_merchant(province.bank_a, province.a_manager)
    merchant_b, _ = approved_merchant(province.bank_b, province.b_manager)
    listed = [listed_product(merchant_a, name=f"罗汉果{i}", price=f"{10 + i}.50", stock=5 * i)
              for i in range(1, 4)]

    draft = product_create(merchant=merchant_a, name="未上架", category=category(),
                           origin_county="永福县",
                           skus=[SkuSpec(spec="1斤", unit="斤", price=Decimal("9.90"))])
    other = listed_product(merchant_b, name="乙县蜂蜜")
    return {"a": merchant_a, "b": merchant_b, "listed": listed, "draft": draft,
            "other": other}


# --- authentication, scopes, partner status --------------------------------------------


@pytest.mark.parametrize("path", PARTNER_ENDPOINTS)
def test_no_key_is_401_and_a_key_without_the_scope_is_403(province, path):
    partner = register(province)
    response = client_with(None).get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    wrong = new_key(province, partner, scopes=["orders:read"])
    response = client_with(wrong.secret).get(path)
    assert response.status_code == 403
    assert "catalog:read" in response.json()["message"]
    right = new_key(province, partner)
    assert client_with(right.secret).get(path).status_code == 200
    assert client_with(right.secret, header="x-api-key").get(path).status_code == 200


@pytest.mark.parametrize("path", PARTNER_ENDPOINTS)
def test_unknown_revoked_and_expired_keys_are_401(province, path):
    partner = register(province)
    new = new_key(province, partner)
    forged = new.secret[:-4] + ("AAAA" if not new.secret.endswith("AAAA") else "BBBB")
    for bad in [forged, "pk_00000000_nothing", "pk_short", "garbage"]:
        response = client_with(bad).get(path)
        assert response.status_code == 401, bad
        assert response.json()["message"] == "Invalid API key." or "API" in \
            response.json()["message"]
    admin = APIClient(HTTP_HOST="localhost")
    admin.force_authenticate(province.fed_admin)
    assert admin.post(f"/api/v1/partner/keys/{new.key.pk}/revoke/").status_code == 200
    response = client_with(new.secret).get(path)
    assert response.status_code == 401
    assert "revoked" in response.json()["message"] or "吊销" in response.json()["message"]

    expiring = new_key(province, partner, expires_at=timezone.now() + timedelta(hours=1))
    assert client_with(expiring.secret).get(path).status_code == 200
    PartnerKey.objects.filter(pk=expiring.key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    response = client_with(expiring.secret).get(path)
    assert response.status_code == 401
    assert "expired" in response.json()["message"] or "过期" in response.json()["message"]


def test_suspended_and_closed_partners_are_403(province):
    partner = register(province)
    new = new_key(province, partner)
    partner_suspend(partner=partner, acting_user=province.fed_admin)
    assert client_with(new.secret).get(CHANGES).status_code == 403
    partner_reactivate(partner=partner, acting_user=province.fed_admin)
    assert client_with(new.secret).get(CHANGES).status_code == 200
    client = APIClient(HTTP_HOST="localhost")
    client.force_login(province.fed_admin)
    response = client.post(f"/federation/partners/{partner.pk}/close/")
    assert response.status_code == 302
    partner.refresh_from_db()
    assert partner.status == "closed"
    # Closing revokes its keys: the key is no credential any more.
    assert client_with(new.secret).get(CHANGES).status_code == 401
    # A closed partner is closed for good.
    response = client.post(f"/federation/partners/{partner.pk}/reactivate/")
    partner.refresh_from_db()
    assert partner.status == "closed"
    assert [e.action for e in trail(partner).order_by("-created_at", "-id")][:1] == [
        "partner_close"]


def test_rotation_keeps_the_old_key_until_the_overlap_ends(province):
    partner = register(province)
    old = new_key(province, partner, scopes=["catalog:read", "orders:read"])
    new = key_rotate(key=old.key, acting_user=province.fed_admin, overlap_hours=24)
    assert new.key.scopes == ["catalog:read", "orders:read"]
    assert new.secret != old.secret
    old.key.refresh_from_db()
    assert old.key.expires_at - timezone.now() > timedelta(hours=23)
    assert client_with(old.secret).get(CHANGES).status_code == 200
    assert client_with(new.secret).get(CHANGES).status_code == 200
    # The overlap is over.
    PartnerKey.objects.filter(pk=old.key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert client_with(old.secret).get(CHANGES).status_code == 401
    assert client_with(new.secret).get(CHANGES).status_code == 200


def test_throttling_per_key_answers_429_with_retry_after(province, settings):
    settings.PARTNER_API_RATE = "2/min"
    partner = register(province)
    first, second = new_key(province, partner), new_key(province, partner)
    client = client_with(first.secret)
    assert [client.get(CHANGES).status_code for _ in range(2)] == [200, 200]
    response = client.get(CHANGES)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    # Another key has its own count.
    assert client_with(second.secret).get(CHANGES).status_code == 200


def test_uses_are_written_to_the_key_at_most_once_a_minute(province):
    partner = register(province)
    new = new_key(province, partner)
    client = client_with(new.secret)
    client.get(CHANGES)
    new.key.refresh_from_db()
    assert new.key.use_count == 1 and new.key.last_used_at is not None
    client.get(CHANGES)
    client.get(CHANGES)
    new.key.refresh_from_db()
    assert new.key.use_count == 1   # counted in Redis, not written
    PartnerKey.objects.filter(pk=new.key.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=2))
    client.get(CHANGES)
    new.key.refresh_from_db()
    assert new.key.use_count == 4


CONSOLE_AND_SHOPPER_APIS = [
    (None, "/api/v1/me/"),
    (None, "/api/v1/orders/"),
    (None, "/api/v1/cart/"),
    (None, "/api/v1/federation/banks/"),
    (None, "/api/v1/partner/keys/"),
    ("bank_a", "/api/v1/console/branches/"),
    ("bank_a", "/api/v1/console/staff/"),
    ("bank_a", "/api/v1/console/orders/"),
    ("bank_a", "/api/v1/orders/"),
]


@pytest.mark.parametrize(("bank", "path"), CONSOLE_AND_SHOPPER_APIS)
def test_a_partner_key_reaches_no_console_merchant_or_shopper_api(province, shelf, bank,
                                                                   path):
    partner = register(province)
    new = new_key(province, partner, scopes=["catalog:read", "orders:read", "orders:write",
                                             "webhooks:manage"])
    host = "localhost" if bank is None else f"{getattr(province, bank).code}.localhost"
    for header in ["bearer", "x-api-key"]:
        response = client_with(new.secret, header=header, host=host).get(path)
        assert response.status_code in {401, 403}, (path, response.status_code)
    merchant_orders = f"/api/v1/merchant/{shelf['a'].pk}/orders/"
    response = client_with(new.secret, host="bank-a.localhost").get(merchant_orders)
    assert response.status_code in {401, 403}


# --- the catalog -----------------------------------------------------------------------


def test_export_holds_every_sellable_product_of_allowed_banks_once(province, shelf):
    partner = register(province)
    new = new_key(province, partner)
    lines = export_lines(client_with(new.secret).get(EXPORT))
    ids = [line["id"] for line in lines]
    assert len(ids) == len(set(ids))
    assert {p.pk for p in shelf["listed"]} <= set(ids)
    assert shelf["draft"].pk not in ids and shelf["other"].pk not in ids
    assert {line["bank"] for line in lines} == {"bank-a"}
    first = next(line for line in lines if line["id"] == shelf["listed"][0].pk)
    assert first["price"] == {"min": "11.50", "max": "11.50"}
    assert first["stock"] == "low"  # 5 available
    assert next(x for x in lines if x["id"] == shelf["listed"][1].pk)["stock"] == "in_stock"
    assert first["merchant"]["id"] == shelf["a"].pk
    assert first["url"].endswith(f"/p/{first['id']}/")
    # The bank opts out: nothing of it is left.
    bank_partner_opt_out(bank=province.bank_a, partner=partner, acting_user=province.a_admin)
    assert export_lines(client_with(new.secret).get(EXPORT)) == []


def test_export_of_a_partner_without_banks_is_empty(province, shelf):
    partner = register(province, banks=[])
    new = new_key(province, partner)
    assert export_lines(client_with(new.secret).get(EXPORT)) == []


def test_changes_follow_listing_delisting_opt_out_and_stock(province, shelf):
    partner = register(province)
    client = client_with(new_key(province, partner).secret)
    items, cursor = walk_changes(client)
    ours = {p.pk for p in shelf["listed"]}
    upserts = [i["id"] for i in items if i["event"] == "upsert"]
    assert ours <= set(upserts)
    assert len(upserts) == len(set(upserts))
    assert shelf["draft"].pk not in {i["id"] for i in items}   # never listed
    # bank B's product is not the partner's: reported as not for sale
    assert {"event": "delisted", "id": shelf["other"].pk} .items() <= next(
        i for i in items if i["id"] == shelf["other"].pk).items()
    # Nothing new: an empty page that keeps the cursor.
    page = client.get(CHANGES, {"cursor": cursor}).json()
    assert page == {"items": [], "next_cursor": cursor, "has_more": False}

    gone = shelf["listed"][0]
    product_transition(product=gone, action="delist")
    items, cursor = walk_changes(client, cursor)
    assert [(i["event"], i["id"]) for i in items] == [("delisted", gone.pk)]

    # The merchant counts its shelf: the stock band changes in the feed.
    sku = shelf["listed"][1].skus.get()
    stock_set(sku=sku, on_hand=0)
    items, cursor = walk_changes(client, cursor)
    assert [(i["event"], i["id"], i["stock"]) for i in items] == [
        ("upsert", shelf["listed"][1].pk, "out")]

    # The bank opts out: every product of it goes.
    bank_partner_opt_out(bank=province.bank_a, partner=partner, acting_user=province.a_admin)
    items, cursor = walk_changes(client, cursor)
    assert {i["id"] for i in items if i["event"] == "delisted"} >= ours
    assert not [i for i in items if i["event"] == "upsert"]

    # The federation allows bank B instead: its product comes in.
    partner_set_banks(partner=partner, banks=[province.bank_b], acting_user=province.fed_admin)
    items, cursor = walk_changes(client, cursor)
    assert ("upsert", shelf["other"].pk) in {(i["event"], i["id"]) for i in items}


def test_changes_start_from_updated_since(province, shelf):
    partner = register(province)
    client = client_with(new_key(province, partner).secret)
    later = timezone.now() + timedelta(days=1)
    page = client.get(CHANGES, {"updated_since": later.isoformat()}).json()
    assert page["items"] == [] and page["has_more"] is False
    earlier = (timezone.now() - timedelta(days=1)).isoformat()
    page = client.get(CHANGES, {"updated_since": earlier, "limit": 1000}).json()
    assert {p.pk for p in shelf["listed"]} <= {i["id"] for i in page["items"]}


def test_changes_page_has_an_etag_and_answers_304(province, shelf):
    partner = register(province)
    client = client_with(new_key(province, partner).secret)
    first = client.get(CHANGES, {"limit": 1000})
    etag = first["ETag"]
    assert etag.startswith('"')
    again = client.get(CHANGES, {"limit": 1000}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    product_transition(product=shelf["listed"][2], action="delist")
    changed = client.get(CHANGES, {"limit": 1000}, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


@pytest.mark.parametrize("query", [
    {"cursor": "!!!not-base64!!!"},
    {"cursor": base64.urlsafe_b64encode(b"yesterday|seven").decode()},
    {"cursor": base64.urlsafe_b64encode(b"2026-01-01T00:00:00|5").decode()},  # naive
    {"limit": "0"},
    {"limit": "5000"},
    {"limit": "many"},
    {"updated_since": "last tuesday"},
])
def test_bad_feed_input_is_a_400_with_the_field(province, query):
    partner = register(province)
    client = client_with(new_key(province, partner).secret)
    response = client.get(CHANGES, query)
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == set(query)


# --- partners and keys: the federation's side ----------------------------------------------


@pytest.mark.parametrize("rate", ["0.3", "-0.01", "abc", "NaN", "0.00001"])
def test_fee_rate_out_of_range_is_refused_and_nothing_is_made(province, rate):
    before = Partner.objects.count()
    with pytest.raises(ValidationError) as caught:
        register(province, fee_rate=rate)
    assert "fee_rate" in caught.value.message_dict
    assert Partner.objects.count() == before


def test_fee_rate_bounds_are_accepted(province):
    assert register(province, name="甲", fee_rate="0").fee_rate == Decimal("0")
    assert register(province, name="乙", fee_rate="0.2").fee_rate == Decimal("0.2")


def test_every_change_of_a_partner_is_on_its_trail(province, client_on):
    partner = register(province)
    partner_suspend(partner=partner, acting_user=province.fed_admin, reason="合同到期")
    partner_set_banks(partner=partner, banks=[province.bank_b], acting_user=province.fed_admin)
    events = list(trail(partner).order_by("created_at", "id"))
    assert [e.action for e in events] == ["partner_register", "partner_set_banks",
                                          "partner_suspend", "partner_set_banks"]
    assert events[2].detail["changes"] == {"reason": [None, "合同到期"],
                                           "status": ["active", "suspended"]}
    assert events[3].detail["changes"] == {"banks": [["bank-a"], ["bank-b"]]}
    assert all(e.actor == province.fed_admin and e.bank is None for e in events)
    # the federation's page names each step in words
    page = client_on(None, province.fed_admin).get("/federation/partners/").content.decode()
    assert "合作平台已暂停" in page or "Partner suspended" in page


def test_federation_admins_manage_keys_through_the_api(province):
    partner = register(province)
    admin = APIClient(HTTP_HOST="localhost")
    admin.force_authenticate(province.fed_admin)
    response = admin.post("/api/v1/partner/keys/", {"partner": partner.pk, "name": "小程序",
                                                    "scopes": ["catalog:read"]})
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["key"].startswith(f"pk_{made['prefix']}_")
    assert PartnerKey.objects.get(pk=made["id"]).secret_hash not in made["key"]
    listed = admin.get("/api/v1/partner/keys/", {"partner": partner.pk}).json()
    assert [k["id"] for k in listed] == [made["id"]] and "key" not in listed[0]
    assert client_with(made["key"]).get(CHANGES).status_code == 200

    rotated = admin.post(f"/api/v1/partner/keys/{made['id']}/rotate/", {"overlap_hours": 0})
    assert rotated.status_code == 201
    assert client_with(made["key"]).get(CHANGES).status_code == 401   # no overlap
    assert client_with(rotated.json()["key"]).get(CHANGES).status_code == 200

    # Bad input: 400, nothing made.
    count = PartnerKey.objects.count()
    for body in [{"partner": partner.pk, "name": "x", "scopes": ["catalog:write"]},
                 {"partner": partner.pk, "name": "x", "scopes": []},
                 {"partner": partner.pk, "name": " ", "scopes": ["catalog:read"]},
                 {"partner": partner.pk, "name": "x", "scopes": ["catalog:read"],
                  "expires_at": "2001-01-01T00:00:00+08:00"}]:
        assert admin.post("/api/v1/partner/keys/", body).status_code == 400, body
    assert admin.post(f"/api/v1/partner/keys/{made['id']}/rotate/",
                      {"overlap_hours": 9999}).status_code == 400
    assert PartnerKey.objects.count() == count


def test_only_federation_admins_reach_the_key_api_and_the_page(province, client_on):
    partner = register(province)
    shopper = APIClient(HTTP_HOST="localhost")
    shopper.force_authenticate(province.shopper)
    assert shopper.get("/api/v1/partner/keys/").status_code == 404
    assert shopper.post("/api/v1/partner/keys/", {"partner": partner.pk, "name": "x",
                                                  "scopes": ["catalog:read"]}
                        ).status_code == 404
    assert client_on(None, province.shopper).get("/federation/partners/").status_code in {
        302, 403, 404}
    assert client_on(None, province.a_admin).get("/federation/partners/").status_code in {
        302, 403, 404}


def test_federation_page_lists_registers_and_suspends(province, client_on):
    client = client_on(None, province.fed_admin)
    page = client.get("/federation/partners/")
    assert page.status_code == 200
    response = client.post("/federation/partners/", {
        "name": "合作社小程序", "kind": "cooperative_shop", "contact_name": "王五",
        "contact_phone": "13900000002", "fee_rate": "0.5", "banks": [province.bank_a.pk]})
    assert response.status_code == 400
    assert not Partner.objects.filter(name="合作社小程序").exists()
    assert "0.2" in response.content.decode()
    response = client.post("/federation/partners/", {
        "name": "合作社小程序", "kind": "cooperative_shop", "contact_name": "王五",
        "contact_phone": "13900000002", "fee_rate": "0.01", "banks": [province.bank_a.pk]})
    assert response.status_code == 302
    partner = Partner.objects.get(name="合作社小程序")
    assert list(partner.banks.all()) == [province.bank_a]
    client.post(f"/federation/partners/{partner.pk}/suspend/")
    partner.refresh_from_db()
    assert partner.status == "suspended"
    assert "合作社小程序" in client.get("/federation/partners/").content.decode()


def test_schema_lists_the_partner_api_with_its_key_scheme(province, client_on):
    schema = client_on(None).get("/api/v1/schema/?format=json").json()
    assert {"/api/v1/partner/catalog/export.jsonl", "/api/v1/partner/catalog/changes",
            "/api/v1/partner/keys/"} <= set(schema["paths"])
    assert "partnerKey" in schema["components"]["securitySchemes"]
    changes = schema["paths"]["/api/v1/partner/catalog/changes"]["get"]
    assert changes["security"] == [{"partnerKey": []}]
    assert {"401", "403", "429"} <= set(changes["responses"])


def test_a_bank_admin_opts_the_banks_merchants_out_and_back_in(province, shelf, api_on):
    partner = register(province, banks=[province.bank_a, province.bank_b])
    key = new_key(province, partner).secret
    listed = {p.pk for p in shelf["listed"]}
    staff = api_on(province.bank_a, province.a_manager)
    # Only this test's partner (others an earlier module left may serve bank A too).
    assert [p for p in staff.get("/api/v1/console/partners/").json()
            if p["id"] == partner.pk] == [
        {"id": partner.pk, "name": partner.name, "kind": "county_centre", "status": "active",
         "opted_out": False}]
    # Only the bank's admins decide; staff of a bank the partner does not serve: 404.
    assert staff.post(f"/api/v1/console/partners/{partner.pk}/opt-out/").status_code == 403
    register(province, name="只卖乙县", banks=[province.bank_b])
    other = Partner.objects.get(name="只卖乙县")
    admin = api_on(province.bank_a, province.a_admin)
    assert admin.post(f"/api/v1/console/partners/{other.pk}/opt-out/").status_code == 404
    assert client_with(key, host="bank-a.localhost").get(
        "/api/v1/console/partners/").status_code in {401, 403}

    response = admin.post(f"/api/v1/console/partners/{partner.pk}/opt-out/")
    assert response.status_code == 200 and response.json()["opted_out"] is True
    ids = {line["id"] for line in export_lines(client_with(key).get(EXPORT))}
    assert not listed & ids and shelf["other"].pk in ids
    assert trail(partner).filter(action="partner_bank_opt_out", actor=province.a_admin,
                                 bank=province.bank_a).exists()  # on the bank's trail
    response = admin.post(f"/api/v1/console/partners/{partner.pk}/opt-in/")
    assert response.json()["opted_out"] is False
    ids = {line["id"] for line in export_lines(client_with(key).get(EXPORT))}
    assert listed <= ids


def test_the_demo_partners_load_once_with_a_key_that_reads_the_catalog(province):
    Partner.objects.filter(name__in=[p["name"] for p in PARTNERS]).delete()
    first = load_demo_partners(banks=[province.bank_a, province.bank_b])
    assert first.counts["partners"] == 2 and len(first.keys) == 2
    for _name, secret in first.keys:
        assert client_with(secret).get(CHANGES).status_code == 200
    again = load_demo_partners(banks=[province.bank_a, province.bank_b])
    assert again.counts["partners"] == 0 and again.keys == []
