"""Bank staff take a merchant from application to approved and listed, entirely through
pages; staff of another bank get 404 for all of it."""

import datetime

import pytest
from django_tenants.utils import schema_context

from admission.models import Dossier, DossierEvent
from catalog.models import Merchant, Product
from tests.catalog_factories import category, valid_id_number, valid_uscc

pytestmark = pytest.mark.django_db


def application(n=901, **change):
    data = {
        "shop_name": "甲县青山柑橘专业合作社", "kind": "cooperative", "county": "甲县",
        "township": "青山乡", "intro": "柑橘种植二十年。", "uscc": valid_uscc(n),
        "legal_rep_name": "李四", "legal_rep_id": valid_id_number(n),
        "contact_phone": "13912345678", "address": "甲县青山乡 8 号",
        "licence_number": "JX-2026-001", "licence_expires": "2030-12-31",
    }
    data.update(change)
    return data


def test_application_to_listed_product_entirely_through_pages(province, client_on):
    bank = province.bank_a
    category()
    applicant = client_on(bank, province.shopper)
    response = applicant.post("/merchant/apply/", application())
    assert response.status_code == 302
    merchant = Merchant.objects.get(name="甲县青山柑橘专业合作社")
    assert (merchant.bank, merchant.status) == (bank, "applied")
    with schema_context(bank.schema_name):
        dossier = Dossier.objects.get(merchant_id=merchant.pk)
        assert dossier.legal_rep_id_masked.startswith("450") and "*" in dossier.legal_rep_id_masked

    staff = client_on(bank, province.a_credit)
    assert "甲县青山柑橘专业合作社" in staff.get("/console/merchants/").content.decode()
    assert staff.get(f"/console/merchants/{merchant.pk}/").status_code == 200
    # approving before review and inspection is refused with a message, nothing changes
    staff.post(f"/console/merchants/{merchant.pk}/approve/")
    merchant.refresh_from_db()
    assert merchant.status == "applied"
    assert staff.post(f"/console/merchants/{merchant.pk}/start_review/").status_code == 302
    staff.post(f"/console/merchants/{merchant.pk}/approve/")
    merchant.refresh_from_db()
    assert merchant.status == "under_review"  # no inspection yet
    response = staff.post(f"/console/merchants/{merchant.pk}/inspections/", {
        "inspected_on": datetime.date.today().isoformat(), "findings": "果园管理规范",
        "verdict": "pass"})
    assert response.status_code == 302
    staff.post(f"/console/merchants/{merchant.pk}/approve/")
    merchant.refresh_from_db()
    assert merchant.status == "approved"

    # the merchant lists a product; the bank reviews it
    owner = client_on(bank, province.shopper)
    response = owner.post(f"/merchant/{merchant.pk}/products/new/", {
        "name": "青山脐橙", "category": category().pk, "origin_county": "甲县",
        "sku-spec": "5斤装", "sku-unit": "箱", "sku-price": "49.90", "sku-stock": "100",
        "sku-tiers": "10 = 45.00"})
    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(name="青山脐橙")
    owner.post(f"/merchant/{merchant.pk}/products/{product.pk}/submit/")
    product.refresh_from_db()
    assert product.status == "pending_review"
    assert "青山脐橙" in staff.get("/console/listings/").content.decode()
    staff.post(f"/console/listings/{product.pk}/approve_listing/")
    product.refresh_from_db()
    assert product.status == "listed"
    # it shows in another bank's storefront search
    html = client_on(province.bank_b).get("/search/?q=脐橙").content.decode()
    assert "青山脐橙" in html
    with schema_context(bank.schema_name):
        actions = list(DossierEvent.objects.filter(dossier__merchant_id=merchant.pk)
                       .order_by("id").values_list("action", flat=True))
    assert actions == ["apply", "start_review", "inspect", "approve", "approve_listing"]


@pytest.mark.parametrize(("change", "field"), [
    ({"uscc": "91450300MA5K123456"}, "uscc"),            # wrong check character
    ({"uscc": "123"}, "uscc"),
    ({"legal_rep_id": "450302198001019999"}, "legal_rep_id"),
    ({"contact_phone": "12345"}, "contact_phone"),
    ({"licence_expires": "2020-01-01"}, "licence_expires"),
    ({"shop_name": ""}, "shop_name"),
])
def test_bad_application_is_a_400_page_and_creates_nothing(province, client_on, change, field):
    before = Merchant.objects.count()
    response = client_on(province.bank_a, province.shopper).post(
        "/merchant/apply/", application(**change))
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert Merchant.objects.count() == before


def test_staff_of_another_bank_get_404_for_admission_pages(province, client_on):
    from tests.catalog_factories import apply_merchant

    dossier = apply_merchant(province.bank_a)
    mid = dossier.merchant_id
    other = client_on(province.bank_b, province.b_admin)
    # B's staff on B's domain asking for A's merchant
    for path in (f"/console/merchants/{mid}/",):
        assert other.get(path).status_code == 404
    for action in ("start_review", "approve", "reject", "suspend"):
        assert other.post(f"/console/merchants/{mid}/{action}/",
                          {"reason": "x"}).status_code == 404
    assert other.post(f"/console/merchants/{mid}/inspections/", {
        "inspected_on": "2026-01-01", "findings": "x", "verdict": "pass"}).status_code == 404
    assert "测试合作社" not in other.get("/console/merchants/").content.decode()
    # B's staff on A's domain: not staff there
    assert client_on(province.bank_a, province.b_admin).get(
        f"/console/merchants/{mid}/").status_code == 404
    assert Merchant.objects.get(pk=mid).status == "applied"
    # a shopper is not staff
    assert client_on(province.bank_a, province.shopper).get(
        "/console/merchants/").status_code == 404


def test_private_documents_are_for_the_banks_staff_only(province, client_on):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.catalog_factories import apply_merchant

    mid = apply_merchant(province.bank_a).merchant_id
    staff = client_on(province.bank_a, province.a_credit)
    from tests.test_uploads import pdf_bytes

    notes = pdf_bytes()  # the dossier takes pictures and PDFs (core.uploads)
    upload = SimpleUploadedFile("inspection-notes.pdf", notes)
    assert staff.post(f"/console/merchants/{mid}/documents/",
                      {"title": "核查记录", "file": upload}).status_code == 302
    with schema_context(province.bank_a.schema_name):
        doc = Dossier.objects.get(merchant_id=mid).documents.get()
    url = f"/console/merchants/{mid}/files/document/{doc.pk}/"
    response = staff.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == notes
    assert client_on(province.bank_a, province.shopper).get(url).status_code == 404
    assert client_on(province.bank_b, province.b_admin).get(url).status_code == 404
    assert client_on(province.bank_a, province.b_admin).get(url).status_code == 404
    # stored in the bank's own folder, not under the public media folder
    assert "/public/" not in doc.file.path and province.bank_a.schema_name in doc.file.path


def test_bank_admin_sets_the_listing_policy(province, client_on):
    from tests.catalog_factories import approved_merchant, category

    merchant, _ = approved_merchant(province.bank_a, province.a_credit)
    from catalog.services import SkuSpec, product_create, product_transition

    admin = client_on(province.bank_a, province.a_admin)
    assert client_on(province.bank_a, province.a_manager).post(
        "/console/policy/", {}).status_code == 403  # not an admin of this bank
    assert admin.post("/console/policy/", {}).status_code == 302
    province.bank_a.refresh_from_db()
    assert province.bank_a.requires_listing_review is False
    product = product_create(merchant=merchant, name="免审核的米", category=category(),
                             origin_county="甲县",
                             skus=[SkuSpec(spec="5kg", unit="袋", price="30", stock=5)])
    product_transition(product=product, action="submit")
    assert product.status == "listed"
    admin.post("/console/policy/", {"requires_listing_review": "1"})
    province.bank_a.refresh_from_db()
    assert province.bank_a.requires_listing_review is True


def test_merchant_edits_the_shop_profile(province, client_on):
    from tests.catalog_factories import approved_merchant

    merchant, _ = approved_merchant(province.bank_a, province.a_credit, owner=province.shopper)
    owner = client_on(province.bank_a, province.shopper)
    assert owner.post(f"/merchant/{merchant.pk}/profile/",
                      {"intro": "三代种橙", "township": "青山乡"}).status_code == 302
    merchant.refresh_from_db()
    assert (merchant.intro, merchant.township) == ("三代种橙", "青山乡")
    assert client_on(province.bank_a, province.a_manager).post(
        f"/merchant/{merchant.pk}/profile/", {"intro": "x"}).status_code == 404


def test_merchant_console_pages_for_skus_stock_and_batches(province, client_on):
    from catalog.models import Batch
    from tests.catalog_factories import approved_merchant, listed_product

    merchant, _ = approved_merchant(province.bank_a, province.a_credit, owner=province.shopper)
    product = listed_product(merchant, name="土蜂蜜")
    owner = client_on(province.bank_a, province.shopper)
    base = f"/merchant/{merchant.pk}/products/{product.pk}/"
    assert owner.get(base).status_code == 200
    assert owner.post(base + "skus/", {"sku-spec": "1斤装", "sku-unit": "瓶",
                                       "sku-price": "58.00", "sku-stock": "20",
                                       "sku-tiers": "10 = 52.00"}).status_code == 302
    assert product.skus.count() == 2
    bad = owner.post(base + "skus/", {"sku-spec": "x", "sku-unit": "瓶", "sku-price": "5",
                                      "sku-stock": "1", "sku-tiers": "10 = 9.00"})
    assert bad.status_code == 400 and product.skus.count() == 2
    sku = product.skus.get(spec="1斤装")
    assert owner.post(base + f"skus/{sku.pk}/stock/", {"stock": "7"}).status_code == 302
    sku.refresh_from_db()
    assert sku.stock == 7
    owner.post(base + f"skus/{sku.pk}/stock/", {"stock": "-1"})
    sku.refresh_from_db()
    assert sku.stock == 7
    assert owner.post(base + "batches/", {
        "batch-code": "FM-01", "batch-harvest_date": "2026-05-01", "batch-farm": "后山蜂场",
        "batch-inputs": "饲料 | 白糖水 | 2026-02-01 | 越冬补饲"}).status_code == 302
    batch = Batch.objects.get(product=product, code="FM-01")
    assert batch.inputs[0]["kind"] == "feed"
    assert owner.post(base + "batches/", {"batch-code": "FM-02",
                                          "batch-harvest_date": "2026-05-01",
                                          "batch-farm": ""}).status_code == 400
    assert owner.post(base + "delist/").status_code == 302
    product.refresh_from_db()
    assert product.status == "delisted"
