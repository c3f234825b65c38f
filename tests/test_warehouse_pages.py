"""Warehouses, receipts and pledge loans on the API and the pages: the whole path from
registering a warehouse to a disbursed pledge loan through the same services; another
bank's staff get 404; bad input gets a 400 with its message and changes nothing; the
public verification page and API show no holder; the pages speak Chinese."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from catalog.models import Sku
from lending.models import Loan
from tests.orders_factories import market
from warehouses.models import Lot, Warehouse, WarehouseReceipt

pytestmark = pytest.mark.django_db


def owner(merchant):
    return merchant.members.get().user


def test_from_a_warehouse_to_a_pledge_loan_on_the_api(province, api_on, client_on):
    shop = market(province, stock_a=0)
    bank, merchant = province.bank_a, shop.merchant_a
    staff = api_on(bank, province.a_manager)
    seller = api_on(bank, owner(merchant))

    bad = staff.post("/api/v1/console/warehouses/", {"name": "甲县冷库", "operator": "合作社",
                     "address": "甲县", "capacity": 0, "temperature_class": "hot"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) >= {"capacity",
                                                                    "temperature_class"}
    made = staff.post("/api/v1/console/warehouses/", {
        "name": "甲县冷库", "operator": "合作社", "address": "甲县工业园", "capacity": 5000,
        "temperature_class": "frozen"}, format="json")
    assert made.status_code == 201 and made.json()["status"] == "pending"
    wid = made.json()["id"]
    # Another bank's staff: 404; a pending warehouse takes nothing in.
    assert api_on(province.bank_b, province.b_manager).post(
        f"/api/v1/console/warehouses/{wid}/decide/", {"action": "approve"},
        format="json").status_code == 404
    inbound = {"warehouse": wid, "sku": shop.sku_a.pk, "quantity": 50, "grade": "特级"}
    refused = seller.post(f"/api/v1/merchant/{merchant.pk}/warehouse-lots/", inbound,
                          format="json")
    assert refused.status_code == 400 and not Lot.objects.filter(warehouse_id=wid).exists()
    assert staff.post(f"/api/v1/console/warehouses/{wid}/decide/", {"action": "approve",
                      "note": "验收合格"}, format="json").json()["status"] == "approved"
    lot = seller.post(f"/api/v1/merchant/{merchant.pk}/warehouse-lots/", inbound,
                      format="json")
    assert lot.status_code == 201 and lot.json()["free"] == 50
    lot_id = lot.json()["id"]

    issued = staff.post("/api/v1/console/warehouse-receipts/", {"lot": lot_id,
                        "quantity": 30}, format="json")
    assert issued.status_code == 201, issued.content
    receipt = issued.json()
    # The public facts, on the portal, without the holder.
    token = receipt["verify_url"].rstrip("/").rsplit("/", 1)[-1]
    facts = api_on(None).get(f"/api/v1/warehouse-receipts/verify/{token}/")
    assert facts.status_code == 200 and facts.json()["quantity"] == 30
    assert "holder" not in facts.json()
    page = client_on(None).get(receipt["verify_url"]).content.decode()
    assert receipt["number"] in page and merchant.name not in page and "有效" in page
    qr = client_on(None).get(receipt["verify_url"] + "qr.svg")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/svg+xml"

    quotes = seller.get(f"/api/v1/merchant/{merchant.pk}/financing/pledges/").json()
    assert [q["max_amount"] for q in quotes] == ["819.00"]  # 30 x 45.50 x 60 %
    over = seller.post(f"/api/v1/merchant/{merchant.pk}/financing/pledges/",
                       {"receipt": receipt["id"], "amount": "900.00"}, format="json")
    assert over.status_code == 400 and "amount" in over.json()["errors"]
    applied = seller.post(f"/api/v1/merchant/{merchant.pk}/financing/pledges/",
                          {"receipt": receipt["id"]}, format="json")
    assert applied.status_code == 201 and applied.json()["status"] == "in_review"
    decided = api_on(bank, province.a_credit).post(
        f"/api/v1/console/lending/applications/{applied.json()['id']}/decide/",
        {"approve": True, "note": "货值核实"}, format="json")
    assert decided.status_code == 200, decided.content
    assert WarehouseReceipt.objects.get(pk=receipt["id"]).status == "pledged"
    assert Sku.objects.get(pk=shop.sku_a.pk).stock == 20

    # Shipping pledged goods out: 400, nothing changed.
    out = seller.post(f"/api/v1/merchant/{merchant.pk}/warehouse-lots/{lot_id}/outbound/",
                      {"quantity": 21}, format="json")
    assert out.status_code == 400 and "质押" in out.json()["message"]
    assert Lot.objects.get(pk=lot_id).on_hand == 50
    assert api_on(bank, province.a_credit).get(
        "/api/v1/console/lending/margin-calls/").status_code == 200
    # The loan on the usual pages: the shop's, the officers' (application and loan).


    with schema_context(bank.schema_name):
        loan = Loan.objects.get(application_id=applied.json()["id"])
    officer = client_on(bank, province.a_credit)
    for page in (officer.get(f"/console/lending/applications/{applied.json()['id']}/"),
                 officer.get(f"/console/lending/loans/{loan.pk}/"),
                 officer.get("/console/"),
                 client_on(bank, owner(merchant)).get(
                     f"/merchant/{merchant.pk}/financing/loans/{loan.pk}/"),
                 client_on(bank, owner(merchant)).get(f"/merchant/{merchant.pk}/")):
        assert page.status_code == 200
    assert "仓单质押" in officer.get(f"/console/lending/loans/{loan.pk}/").content.decode()
    # A pledged receipt cannot be cancelled or transferred.
    assert staff.post(f"/api/v1/console/warehouse-receipts/{receipt['id']}/cancel/",
                      {"note": "取货"}, format="json").status_code == 400
    assert seller.post(
        f"/api/v1/merchant/{merchant.pk}/warehouse-receipts/{receipt['id']}/transfer/",
        {"to_merchant": shop.merchant_b.pk}, format="json").status_code == 400


def test_the_pages_register_move_and_refuse_with_a_message(province, client_on):
    shop = market(province, stock_a=0)
    bank, merchant = province.bank_a, shop.merchant_a
    console = client_on(bank, province.a_manager)
    assert "登记仓库" in console.get("/console/warehouses/").content.decode()
    bad = console.post("/console/warehouses/", {"do": "register", "name": "甲县粮库",
                       "operator": "粮站", "address": "甲县", "capacity": "many",
                       "temperature_class": "grain"})
    assert bad.status_code == 400 and not Warehouse.objects.filter(name="甲县粮库").exists()
    assert console.post("/console/warehouses/", {"do": "register", "name": "甲县粮库",
                        "operator": "粮站", "address": "甲县", "capacity": "800",
                        "temperature_class": "grain"}).status_code == 302
    store = Warehouse.objects.get(name="甲县粮库", bank=bank)
    console.post("/console/warehouses/", {"do": "decide", "warehouse": store.pk,
                                          "action": "approve", "note": "合格"})
    assert Warehouse.objects.get(pk=store.pk).status == "approved"
    assert client_on(province.bank_b, province.b_manager).post(
        "/console/warehouses/", {"do": "decide", "warehouse": store.pk, "action": "suspend",
                                 "note": "x"}).status_code == 404

    seller = client_on(bank, owner(merchant))
    url = f"/merchant/{merchant.pk}/warehouses/"
    assert seller.post(url, {"do": "inbound", "warehouse": store.pk, "sku": shop.sku_a.pk,
                             "quantity": "40"}).status_code == 302
    lot = Lot.objects.get(warehouse=store)
    over = seller.post(url, {"do": "outbound", "lot": lot.pk, "quantity": "41"})
    assert over.status_code == 400 and "质押" in over.content.decode()
    assert Lot.objects.get(pk=lot.pk).on_hand == 40
    assert "仓库库存" in seller.get(url).content.decode()
    assert seller.get(f"/merchant/{merchant.pk}/financing/pledges/").status_code == 200
    assert client_on(bank, province.a_credit).get(
        "/console/lending/margin-calls/").status_code == 200
    # Someone else's shop: 404.
    assert client_on(bank, province.a_manager).get(url).status_code == 404
