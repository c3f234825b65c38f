"""The partner console (/partner/ on the portal): a partner's members, added by federation
admins, see usage, orders, webhooks and statements; admins manage keys and endpoints,
viewers only read; a member of one partner gets 404 on another's objects. The keys API
takes a partner's admin for their own partner, through the same services."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.services import user_register
from banks.models import BankEvent
from fixtures.partners_demo import MEMBERS, ORDERS, PARTNERS, load_demo_partners
from orders.models import Checkout, OrderStatus
from partners import webhooks
from partners.models import (
    Partner,
    PartnerKey,
    PartnerMember,
    PartnerOrder,
    PartnerWebhookDelivery,
    PartnerWebhookEndpoint,
)
from partners.services import member_add, partner_set_banks
from tests.orders_factories import market, pay
from tests.test_partner_orders import ALL_SCOPES, body, place, receiver  # noqa: F401
from tests.test_partners import client_with, new_key, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(province):
    """Partner A (an admin and a viewer) with an order; partner B (an admin) with a key,
    an order and an endpoint."""
    shop = market(province)
    tag = shop.sku_a.pk
    pa = register(province, name=f"甲县电商中心{tag}")
    pb = register(province, name=f"乙合作社小店{tag}")
    people = {name: user_register(username=f"{name}-{tag}", password=province.password)
              for name in ("a-admin", "a-viewer", "b-admin", "nobody")}
    member_add(partner=pa, person=people["a-admin"].username, role="admin",
               acting_user=province.fed_admin)
    member_add(partner=pa, person=people["a-viewer"].username, role="viewer",
               acting_user=province.fed_admin)
    member_add(partner=pb, person=people["b-admin"].username, role="admin",
               acting_user=province.fed_admin)
    key_a = new_key(province, pa, scopes=ALL_SCOPES)
    key_b = new_key(province, pb, scopes=ALL_SCOPES)
    order_a = place(client_with(key_a.secret), body(shop.sku_a)).json()
    order_b = place(client_with(key_b.secret), body(shop.sku_a), key="k-b").json()
    endpoint_b = PartnerWebhookEndpoint.objects.create(
        partner=pb, url="https://b.example/hook", events=["order.paid"], secret="whsec_b")
    return {"shop": shop, "pa": pa, "pb": pb, "people": people, "key_a": key_a,
            "key_b": key_b, "order_a": order_a, "order_b": order_b,
            "endpoint_b": endpoint_b}


def console(pid, rest=""):
    return f"/partner/{pid}/{rest}"


def test_members_are_added_and_removed_on_the_federation_page_with_an_audit_trail(
        province, client_on):
    partner = register(province, name="成员测试中心")
    person = user_register(username="member-x", password=province.password,
                           phone="13900000077")
    fed = client_on(None, province.fed_admin)
    response = fed.post("/federation/partners/members/", {
        "partner": partner.pk, "person": "13900000077", "role": "viewer"})
    assert response.status_code == 302
    member = PartnerMember.objects.get(partner=partner, user=person)
    assert member.role == "viewer"
    # An unknown person: the form says so, nothing added.
    response = fed.post("/federation/partners/members/", {
        "partner": partner.pk, "person": "nobody-here", "role": "admin"})
    assert response.status_code == 400
    assert "signs up first" in response.content.decode() or "注册" in \
        response.content.decode()
    page = fed.get("/federation/partners/").content.decode()
    assert f'data-member="{member.pk}"' in page
    assert fed.post(f"/federation/partners/members/{member.pk}/remove/").status_code == 302
    assert not PartnerMember.objects.filter(pk=member.pk).exists()
    actions = list(BankEvent.objects.filter(detail__object=f"partners.partner:{partner.pk}")
                   .order_by("created_at", "id").values_list("action", flat=True))
    assert actions[-2:] == ["partner_member_add", "partner_member_remove"]
    # Nobody but federation admins adds members.
    assert client_on(None, person).post("/federation/partners/members/", {
        "partner": partner.pk, "person": "member-x", "role": "admin"}).status_code == 404


def test_the_console_shows_the_partners_own_figures_orders_and_history(province, two,
                                                                       client_on):
    viewer = client_on(None, two["people"]["a-viewer"])
    assert viewer.get("/partner/").url == console(two["pa"].pk)
    page = viewer.get(console(two["pa"].pk)).content.decode()
    assert 'data-figure="orders-placed">1<' in page
    assert 'data-figure="awaiting-payment">1<' in page
    assert 'data-figure="gmv">¥0.00<' in page
    orders = viewer.get(console(two["pa"].pk, "orders/")).content.decode()
    assert two["order_a"]["number"] in orders
    assert two["order_b"]["number"] not in orders
    paid_only = viewer.get(console(two["pa"].pk, "orders/?status=paid")).content.decode()
    assert two["order_a"]["number"] not in paid_only
    # The API filters with the same selector.
    api = client_with(two["key_a"].secret)
    assert [o["number"] for o in api.get("/api/v1/partner/orders/?status=pending_payment")
            .json()["items"]] == [two["order_a"]["number"]]
    assert api.get("/api/v1/partner/orders/?status=paid").json()["items"] == []
    assert "status" in api.get("/api/v1/partner/orders/?status=nonsense").json()["errors"]
    detail = viewer.get(console(two["pa"].pk, f"orders/{two['order_a']['number']}/"))
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "甲县苹果" in text and "partner-pay/" in text
    assert "Order placed" in text or "下单" in text  # the order's history
    # Statements: the page and its CSV.
    month = f"{timezone.localdate():%Y-%m}"
    assert viewer.get(console(two["pa"].pk, f"statements/?month={month}")).status_code == 200
    csv = viewer.get(console(two["pa"].pk, f"statements.csv?month={month}"))
    assert csv["Content-Type"].startswith("text/csv")
    assert b"order,checkout,customer_reference" in csv.content


def test_a_member_of_one_partner_gets_404_on_anothers_objects(province, two, client_on):
    admin_a = client_on(None, two["people"]["a-admin"])
    pb = two["pb"].pk
    for path in ["", "keys/", "orders/", "webhooks/", "statements/", "statements.csv",
                 f"orders/{two['order_b']['number']}/"]:
        assert admin_a.get(console(pb, path)).status_code == 404, path
    # B's objects through A's own console are not found either.
    pa = two["pa"].pk
    assert admin_a.get(console(pa, f"orders/{two['order_b']['number']}/")).status_code == 404
    key_b = two["key_b"].key
    assert admin_a.post(console(pa, f"keys/{key_b.pk}/revoke/")).status_code == 404
    assert admin_a.post(console(pa, f"keys/{key_b.pk}/rotate/"),
                        {"overlap_hours": 1}).status_code == 404
    endpoint = two["endpoint_b"]
    assert admin_a.post(console(pa, f"webhooks/endpoints/{endpoint.pk}/active/"),
                        {"active": "0"}).status_code == 404
    key_b.refresh_from_db()
    endpoint.refresh_from_db()
    assert key_b.revoked_at is None and key_b.expires_at is None and endpoint.is_active
    # People of no partner, and the console on a bank's domain: 404.
    assert client_on(None, two["people"]["nobody"]).get("/partner/").status_code == 404
    assert client_on(province.bank_a, two["people"]["a-admin"]).get(
        console(pa)).status_code == 404
    assert client_on(None).get(console(pa)).status_code == 302  # to the login page


def test_admins_create_rotate_and_revoke_keys_viewers_only_read(province, two, client_on):
    pa = two["pa"].pk
    viewer = client_on(None, two["people"]["a-viewer"])
    assert viewer.get(console(pa, "keys/")).status_code == 200
    assert viewer.post(console(pa, "keys/"), {"name": "x", "scopes": ["catalog:read"]}
                       ).status_code == 403
    assert viewer.post(console(pa, f"keys/{two['key_a'].key.pk}/revoke/")).status_code == 403
    assert 'id="create-key"' not in viewer.get(console(pa, "keys/")).content.decode()

    admin = client_on(None, two["people"]["a-admin"])
    before = PartnerKey.objects.filter(partner=two["pa"]).count()
    bad = admin.post(console(pa, "keys/"), {"name": "", "scopes": []})
    assert bad.status_code == 400
    assert PartnerKey.objects.filter(partner=two["pa"]).count() == before
    made = admin.post(console(pa, "keys/"), {"name": "商品同步", "scopes": ["catalog:read"]})
    assert made.status_code == 200
    secret = made.content.decode().split("data-new-key")[1].split(">")[1].split("<")[0]
    assert secret.startswith("pk_")
    key = PartnerKey.objects.get(partner=two["pa"], name="商品同步")
    assert key.created_by == two["people"]["a-admin"]
    assert client_with(secret).get("/api/v1/partner/catalog/changes").status_code == 200
    # Shown once: the list never shows it again.
    assert secret not in admin.get(console(pa, "keys/")).content.decode()

    rotated = admin.post(console(pa, f"keys/{key.pk}/rotate/"), {"overlap_hours": 0})
    assert rotated.status_code == 200
    new_secret = rotated.content.decode().split("data-new-key")[1].split(">")[1].split("<")[0]
    assert client_with(secret).get("/api/v1/partner/catalog/changes").status_code == 401
    assert client_with(new_secret).get("/api/v1/partner/catalog/changes").status_code == 200
    assert admin.post(console(pa, f"keys/{key.pk}/rotate/"),
                      {"overlap_hours": 9999}).status_code == 400
    new_key_row = PartnerKey.objects.get(rotated_from=key)
    assert admin.post(console(pa, f"keys/{new_key_row.pk}/revoke/")).status_code == 302
    assert client_with(new_secret).get("/api/v1/partner/catalog/changes").status_code == 401


def test_webhook_endpoints_and_deliveries(province, two, client_on):
    pa = two["pa"].pk
    admin = client_on(None, two["people"]["a-admin"])
    bad = admin.post(console(pa, "webhooks/"), {"url": "http://example.com/x",
                                                "events": ["order.paid"]})
    assert bad.status_code == 400
    assert not PartnerWebhookEndpoint.objects.filter(partner=two["pa"]).exists()
    made = admin.post(console(pa, "webhooks/"), {"url": "https://a.example/hook",
                                                 "events": ["order.paid", "order.shipped"]})
    assert made.status_code == 200
    endpoint = PartnerWebhookEndpoint.objects.get(partner=two["pa"])
    assert endpoint.secret in made.content.decode()
    assert endpoint.secret not in admin.get(console(pa, "webhooks/")).content.decode()
    assert admin.post(console(pa, f"webhooks/endpoints/{endpoint.pk}/active/"),
                      {"active": "0"}).status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    viewer = client_on(None, two["people"]["a-viewer"])
    assert viewer.post(console(pa, f"webhooks/endpoints/{endpoint.pk}/active/"),
                       {"active": "1"}).status_code == 403
    endpoint.refresh_from_db()
    assert not endpoint.is_active


def test_the_keys_api_takes_a_partners_admin_for_their_own_partner(province, two, api_on):
    pa, pb = two["pa"], two["pb"]
    admin = api_on(None, two["people"]["a-admin"])
    response = admin.post("/api/v1/partner/keys/", {
        "partner": pa.pk, "name": "接口建的", "scopes": ["orders:read"]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["key"].startswith("pk_")
    listed = admin.get("/api/v1/partner/keys/").json()
    assert {row["partner"] for row in listed} == {pa.pk}
    # Another partner: 404, for listing, creating, rotating and revoking.
    assert admin.get(f"/api/v1/partner/keys/?partner={pb.pk}").status_code == 404
    assert admin.post("/api/v1/partner/keys/", {
        "partner": pb.pk, "name": "x", "scopes": ["orders:read"]},
        format="json").status_code == 404
    key_b = two["key_b"].key
    assert admin.post(f"/api/v1/partner/keys/{key_b.pk}/rotate/").status_code == 404
    assert admin.post(f"/api/v1/partner/keys/{key_b.pk}/revoke/").status_code == 404
    # A viewer reads but does not change.
    viewer = api_on(None, two["people"]["a-viewer"])
    assert viewer.get(f"/api/v1/partner/keys/?partner={pa.pk}").status_code == 200
    assert viewer.post("/api/v1/partner/keys/", {
        "partner": pa.pk, "name": "x", "scopes": ["orders:read"]},
        format="json").status_code == 403
    assert viewer.post(f"/api/v1/partner/keys/{two['key_a'].key.pk}/revoke/"
                       ).status_code == 403
    # Someone of no partner: 404; the federation admin still manages every partner's.
    nobody = api_on(None, two["people"]["nobody"])
    assert nobody.post("/api/v1/partner/keys/", {
        "partner": pa.pk, "name": "x", "scopes": ["orders:read"]},
        format="json").status_code == 404
    assert nobody.get("/api/v1/partner/keys/").status_code == 404
    fed = api_on(None, province.fed_admin)
    assert fed.post(f"/api/v1/partner/keys/{key_b.pk}/revoke/").status_code == 200


def test_federation_dashboards_show_partners_beside_the_banks(province, two, client_on,
                                                             api_on):
    checkout = Checkout.objects.get(number=two["order_a"]["number"])
    pay(checkout)
    today = timezone.localdate().isoformat()
    fed = client_on(None, province.fed_admin)
    query = f"?start={today}&end={today}"
    page = fed.get(f"/federation/traffic/{query}").content.decode()
    name = two["pa"].name
    # A row of the heat map of its own (2 x 45.50 of bank A's merchant's goods).
    assert f"{name} (partner) → " in page or f"{name}（合作平台） → " in page
    assert 'data-table="partners"' in page and 'data-table="partner_days"' in page
    month_table = page.split('data-table="partners"')[1].split("</table>")[0]
    assert name in month_table and "91.00" in month_table
    assert two["pb"].name not in month_table  # B's order is not paid
    csv = fed.get(f"/federation/traffic/{query}&export=partner_days&format=csv")
    assert csv.status_code == 200
    assert f"{today},{name},1,91.00" in csv.content.decode("utf-8-sig")
    # The federation's traffic API serves the same rows.
    rows = api_on(None, province.fed_admin).get(
        "/api/v1/federation/traffic/partner-days/", {"start": today, "end": today}).json()
    mine = [r for r in rows["rows"] if r["partner"] == name]
    assert mine == [{"day": today, "partner": name, "orders": 1, "gmv": "91.00"}]
    assert api_on(None, two["people"]["a-admin"]).get(
        "/api/v1/federation/traffic/partner-days/").status_code == 404
    # The partner console's overview counts the same payment.
    viewer = client_on(None, two["people"]["a-viewer"])
    overview = viewer.get(console(two["pa"].pk)).content.decode()
    assert 'data-figure="orders-paid">1<' in overview
    assert f'data-figure="gmv">¥{checkout.goods_total}<' in overview


def test_the_demo_places_partner_orders_through_the_services_once(province, client_on):

    market(province, stock_a=100)
    Partner.objects.filter(name__in=[p["name"] for p in PARTNERS]).delete()
    load_demo_partners(banks=[province.bank_a, province.bank_b])
    centre = Partner.objects.get(name=PARTNERS[0]["name"])
    # The demo banks are not the test's: let the centre sell bank A's merchant only.
    partner_set_banks(partner=centre, banks=[province.bank_a],
                      acting_user=province.fed_admin)
    loaded = load_demo_partners(banks=[province.bank_a, province.bank_b],
                                password=province.password)
    assert loaded.skipped == ""
    assert loaded.counts["partner_orders"] == len(ORDERS) == 3
    assert loaded.counts["partner_members"] == len(MEMBERS)
    placed = PartnerOrder.objects.filter(partner=centre).select_related("checkout")
    statuses = sorted(o.status for po in placed for o in po.checkout.orders.all())
    assert statuses == sorted([OrderStatus.PAID, OrderStatus.PENDING_PAYMENT,
                               OrderStatus.SHIPPED])
    # Sold by bank A's merchants only (this test's shop, or another that an earlier module
    # left listed in bank A).
    assert {o.merchant.bank_id for po in placed for o in po.checkout.orders.all()} == {
        province.bank_a.pk}
    again = load_demo_partners(banks=[province.bank_a, province.bank_b],
                               password=province.password)
    assert again.counts == {"partners": 0, "partner_members": 0, "partner_orders": 0}
    assert PartnerOrder.objects.filter(partner=centre).count() == 3
    # The console shows them to the centre's admin.
    admin = PartnerMember.objects.get(partner=centre, role="admin").user
    page = client_on(None, admin).get(console(centre.pk, "orders/")).content.decode()
    assert page.count("data-order=") == 3


def test_deliveries_are_listed_with_their_attempts_and_replayed_by_an_admin(
        province, two, client_on, receiver, monkeypatch,  # noqa: F811
        django_capture_on_commit_callbacks):
    server, handler = receiver
    monkeypatch.setattr(webhooks, "_queue", lambda _id: None)
    pa = two["pa"].pk
    admin = client_on(None, two["people"]["a-admin"])
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    assert admin.post(console(pa, "webhooks/"), {"url": url, "events": ["order.paid"]}
                      ).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        pay(Checkout.objects.get(number=two["order_a"]["number"]))
    delivery = PartnerWebhookDelivery.objects.get(endpoint__partner=two["pa"])
    handler.answers = [503]
    webhooks.delivery_attempt(delivery_id=delivery.pk)
    page = admin.get(console(pa, "webhooks/")).content.decode()
    row = page.split(f'data-delivery="{delivery.pk}"')[1].split("</tr>")[0]
    assert "order.paid" in row and "HTTP 503" in row
    viewer = client_on(None, two["people"]["a-viewer"])
    replay = console(pa, f"webhooks/deliveries/{delivery.pk}/replay/")
    assert viewer.post(replay).status_code == 403
    assert len(handler.received) == 1
    assert admin.post(replay).status_code == 302
    assert len(handler.received) == 2
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert [a.replay for a in delivery.attempt_log.all()] == [False, True]
    # Partner B's admin cannot replay it.
    other = client_on(None, two["people"]["b-admin"])
    assert other.post(console(two["pb"].pk, f"webhooks/deliveries/{delivery.pk}/replay/")
                      ).status_code == 404
    assert len(handler.received) == 2
