"""Catalog and admission API: reads, merchant product management, staff actions,
isolation between banks and between merchants, bad input as 400 changing nothing."""

import datetime

import pytest

from catalog.models import Batch, Merchant, Product
from tests.catalog_factories import (
    apply_merchant,
    approved_merchant,
    category,
    listed_product,
    valid_id_number,
    valid_uscc,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop_a(province):
    merchant, dossier = approved_merchant(province.bank_a, province.a_credit,
                                          owner=province.shopper)
    return merchant


def test_public_reads_on_any_host(province, api_on, shop_a):
    product = listed_product(shop_a, name="香港罗汉果")
    for bank in (None, province.bank_a, province.bank_b):
        api = api_on(bank)
        listing = api.get("/api/v1/catalog/products/", {"q": "罗汉果"}).json()
        assert [p["name"] for p in listing["results"]] == ["香港罗汉果"]
        assert listing["total"] == 1
        detail = api.get(f"/api/v1/catalog/products/{product.pk}/").json()
        assert detail["skus"][0]["price"] == "39.90"
        assert detail["merchant"]["bank"] == "bank-a"
    assert api_on(None).get("/api/v1/catalog/categories/").status_code == 200
    assert api_on(None).get(f"/api/v1/catalog/shops/{shop_a.pk}/").json()["name"] == shop_a.name


def test_merchant_manages_products_through_the_api(province, api_on, shop_a):
    api = api_on(province.bank_a, province.shopper)
    base = f"/api/v1/merchant/{shop_a.pk}/products/"
    response = api.post(base, {
        "name": "高山绿茶", "category": category().slug, "origin_county": "甲县",
        "skus": [{"spec": "250克", "unit": "盒", "price": "88.00", "stock": 30,
                  "tiers": [[10, "80.00"]]}]}, format="json")
    assert response.status_code == 201, response.json()
    pid = response.json()["id"]
    assert response.json()["status"] == "draft"
    sku_id = response.json()["skus"][0]["id"]
    assert api.put(f"{base}{pid}/skus/{sku_id}/stock/", {"stock": 12},
                   format="json").json()["stock"] == 12
    batch = api.post(f"{base}{pid}/batches/", {
        "code": "T-2026-01", "harvest_date": "2026-04-10", "farm": "云雾茶园",
        "inputs": [{"kind": "fertiliser", "name": "菜籽饼肥", "date": "2026-03-01"}]},
        format="json")
    assert batch.status_code == 201
    assert batch.json()["trace_url"].endswith(f"/trace/{batch.json()['trace_token']}/")
    assert api.post(f"{base}{pid}/actions/", {"action": "submit"},
                    format="json").json()["status"] == "pending_review"
    staff = api_on(province.bank_a, province.a_manager)
    assert pid in [p["id"] for p in staff.get("/api/v1/console/listings/").json()]
    assert staff.post(f"/api/v1/console/listings/{pid}/decisions/",
                      {"action": "approve_listing"}, format="json").json()["status"] == "listed"
    trace = api_on(None).get(f"/api/v1/catalog/trace/{batch.json()['trace_token']}/").json()
    assert trace["product"]["name"] == "高山绿茶"


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": "", "origin_county": "甲县", "skus": []}, "name"),
    ({"name": "x", "origin_county": "甲县", "skus": [
        {"spec": "a", "unit": "盒", "price": "-1", "stock": 1}]}, "skus"),
    ({"name": "x", "origin_county": "甲县", "skus": [
        {"spec": "a", "unit": "吨", "price": "1", "stock": 1}]}, "skus"),
    ({"name": "x", "origin_county": "甲县", "skus": [
        {"spec": "a", "unit": "盒", "price": "10", "stock": -5}]}, "skus"),
    ({"name": "x", "origin_county": "甲县", "skus": [
        {"spec": "a", "unit": "盒", "price": "10", "stock": 5, "tiers": [[10, "12.00"]]}]},
     "skus"),
    ({"name": "x", "origin_county": "", "skus": [
        {"spec": "a", "unit": "盒", "price": "10", "stock": 5}]}, "origin_county"),
])
def test_bad_product_input_is_400_and_creates_nothing(province, api_on, shop_a, payload,
                                                       field):
    before = Product.objects.count()
    response = api_on(province.bank_a, province.shopper).post(
        f"/api/v1/merchant/{shop_a.pk}/products/", {"category": category().slug, **payload},
        format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Product.objects.count() == before


def test_batch_in_the_future_or_duplicate_is_refused(province, api_on, shop_a):
    product = listed_product(shop_a)
    url = f"/api/v1/merchant/{shop_a.pk}/products/{product.pk}/batches/"
    api = api_on(province.bank_a, province.shopper)
    future = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    assert api.post(url, {"code": "B1", "harvest_date": future, "farm": "f"},
                    format="json").status_code == 400
    assert api.post(url, {"code": "B1", "harvest_date": "2026-01-01", "farm": "f"},
                    format="json").status_code == 201
    assert api.post(url, {"code": "B1", "harvest_date": "2026-01-01", "farm": "f"},
                    format="json").status_code == 400
    assert Batch.objects.filter(product=product).count() == 1


def test_someone_elses_shop_is_404(province, api_on, shop_a):
    product = listed_product(shop_a)
    base = f"/api/v1/merchant/{shop_a.pk}/products/"
    # another person, same bank domain
    assert api_on(province.bank_a, province.a_manager).get(base).status_code == 404
    # the owner, but on another bank's domain
    assert api_on(province.bank_b, province.shopper).get(base).status_code == 404
    assert api_on(province.bank_a, province.a_manager).put(
        f"{base}{product.pk}/skus/{product.skus.first().pk}/stock/", {"stock": 0},
        format="json").status_code == 404
    assert product.skus.first().stock == 50


def test_staff_api_of_another_bank_is_404(province, api_on):
    dossier = apply_merchant(province.bank_a)
    mid = dossier.merchant_id
    other = api_on(province.bank_b, province.b_admin)
    assert other.get(f"/api/v1/console/merchants/{mid}/").status_code == 404
    assert other.post(f"/api/v1/console/merchants/{mid}/decisions/",
                      {"action": "start_review"}, format="json").status_code == 404
    assert mid not in [m["id"] for m in other.get("/api/v1/console/merchants/").json()]
    assert api_on(province.bank_a, province.b_admin).get(
        f"/api/v1/console/merchants/{mid}/").status_code == 404
    assert Merchant.objects.get(pk=mid).status == "applied"
    own = api_on(province.bank_a, province.a_credit)
    body = own.get(f"/api/v1/console/merchants/{mid}/").json()
    assert body["allowed_actions"] == ["start_review", "reject"]
    assert "*" in body["dossier"]["legal_rep_id_masked"]


def test_every_admission_transition_and_illegal_ones(province, api_on):
    dossier = apply_merchant(province.bank_a)
    mid = dossier.merchant_id
    api = api_on(province.bank_a, province.a_credit)

    def decide(action, reason=""):
        return api.post(f"/api/v1/console/merchants/{mid}/decisions/",
                        {"action": action, "reason": reason}, format="json")

    def state():
        return Merchant.objects.get(pk=mid).status

    assert decide("suspend", "x").status_code == 400          # applied -> suspended: illegal
    assert decide("reinstate").status_code == 400
    assert decide("start_review").status_code == 200
    assert state() == "under_review"
    assert decide("approve").status_code == 400                # no inspection
    assert api.post(f"/api/v1/console/merchants/{mid}/inspections/", {
        "inspected_on": datetime.date.today().isoformat(), "findings": "不合格",
        "verdict": "fail"}, format="json").status_code == 201
    assert decide("approve").status_code == 400                # the inspection failed
    assert api.post(f"/api/v1/console/merchants/{mid}/inspections/", {
        "inspected_on": datetime.date.today().isoformat(), "findings": "整改后合格",
        "verdict": "pass"}, format="json").status_code == 201
    assert decide("approve").json()["status"] == "approved"
    assert decide("approve").status_code == 400                # already approved
    assert decide("suspend").status_code == 400                # reason required
    assert state() == "approved"
    assert decide("suspend", "抽检不合格").json()["status"] == "suspended"
    assert decide("reinstate", "整改完成").json()["status"] == "approved"

    second = apply_merchant(province.bank_a)
    other = second.merchant_id
    response = api.post(f"/api/v1/console/merchants/{other}/decisions/",
                        {"action": "reject", "reason": "资质不全"}, format="json")
    assert response.json()["status"] == "rejected"
    assert api.post(f"/api/v1/console/merchants/{other}/decisions/",
                    {"action": "approve"}, format="json").status_code == 400


def test_suspended_merchants_products_leave_every_storefront(province, api_on, shop_a):
    from django_tenants.utils import schema_context

    from admission.models import Dossier
    from admission.services import merchant_suspend

    listed_product(shop_a, name="铁棍山药")
    assert api_on(province.bank_b).get("/api/v1/catalog/products/",
                                       {"q": "山药"}).json()["total"] == 1
    with schema_context(province.bank_a.schema_name):
        merchant_suspend(dossier=Dossier.objects.get(merchant_id=shop_a.pk),
                         actor=province.a_admin, reason="停业整顿")
    assert api_on(province.bank_b).get("/api/v1/catalog/products/",
                                       {"q": "山药"}).json()["total"] == 0
    assert api_on(None).get(f"/api/v1/catalog/shops/{shop_a.pk}/").status_code == 404


def test_apply_api_validates(province, api_on):
    api = api_on(province.bank_a, province.b_manager)
    good = {"shop_name": "乙乡蜂蜜坊", "kind": "individual", "county": "甲县",
            "uscc": valid_uscc(777), "legal_rep_name": "赵六",
            "legal_rep_id": valid_id_number(777), "contact_phone": "13611110000",
            "address": "甲县", "licences": [{"kind": "business", "number": "N1",
                                              "expires_on": "2030-01-01"}]}
    before = Merchant.objects.count()
    bad = api.post("/api/v1/merchant/apply/", {**good, "uscc": valid_uscc(777)[:-1] + "0"},
                   format="json")
    if valid_uscc(777)[-1] == "0":
        bad = api.post("/api/v1/merchant/apply/", {**good, "uscc": valid_uscc(777)[:-1] + "1"},
                       format="json")
    assert bad.status_code == 400 and "uscc" in bad.json()["errors"]
    assert Merchant.objects.count() == before
    created = api.post("/api/v1/merchant/apply/", good, format="json")
    assert created.status_code == 201
    assert created.json()["status"] == "applied"
    assert api.post("/api/v1/merchant/apply/", good, format="json").status_code == 400
