"""The one upload policy (core.uploads): every file field, through the pages and the API,
accepts only what its policy names, decided from the content; what is kept is served so
that it cannot run; files stored before the policy are re-checked and set aside."""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import models
from django.test.utils import isolate_apps
from django_tenants.utils import schema_context
from PIL import Image
from pypdf import PdfWriter

from accounts.services import user_register
from admission.models import Dossier, DossierDocument, Inspection, Licence
from admission.services import document_add, licence_set_scan
from catalog.models import Batch, MerchantMember, Product
from catalog.services import batch_create
from core import uploads
from core.checks import upload_field_errors
from tests.catalog_factories import apply_merchant, approved_merchant, listed_product

pytestmark = pytest.mark.django_db


# --- the files people try -------------------------------------------------------------------

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>')


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (30, 200, 30)).save(out, "PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bomb() -> bytes:
    """A PNG that says it is 40000 x 40000 pixels (1.6 billion) in a few hundred bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", 40000, 40000, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 5001 * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def huge_bytes() -> bytes:
    return b"%PDF-1.4\n" + b"0" * (30 * 1024 * 1024)


BAD = {
    "html": ("page.html", HTML, "text/html"),
    "svg": ("logo.svg", SVG, "image/svg+xml"),
    "html-as-pdf": ("report.pdf", HTML, "application/pdf"),
    "html-as-jpg": ("photo.jpg", HTML, "image/jpeg"),
    "30mb": ("big.pdf", None, "application/pdf"),
    "bomb": ("bomb.png", None, "image/png"),
}


def bad_file(which: str) -> SimpleUploadedFile:
    name, data, content_type = BAD[which]
    if which == "30mb":
        data = huge_bytes()
    elif which == "bomb":
        data = png_bomb()
    return SimpleUploadedFile(name, data, content_type=content_type)


def good(kind: str) -> SimpleUploadedFile:
    return {"jpeg": lambda: SimpleUploadedFile("照片<b>.jpg", jpeg_bytes(), "image/jpeg"),
            "png": lambda: SimpleUploadedFile("scan.png", png_bytes(), "image/png"),
            "pdf": lambda: SimpleUploadedFile("检测报告.pdf", pdf_bytes(), "application/pdf"),
            }[kind]()


REFUSED_KIND = "不接受这种文件"
REFUSED_SIZE = "文件太大"


def refusal_of(which: str) -> str:
    return REFUSED_SIZE if which == "30mb" else REFUSED_KIND


# --- the policy itself ----------------------------------------------------------------------

@pytest.mark.parametrize("which", list(BAD))
def test_the_policy_refuses_what_is_not_a_picture_or_pdf(which):
    with pytest.raises(uploads.ValidationError) as caught:
        uploads.check(bad_file(which), "scan")
    assert refusal_of(which) in " ".join(caught.value.messages)


def test_the_refusal_names_what_the_field_accepts():
    with pytest.raises(uploads.ValidationError) as caught:
        uploads.check(bad_file("svg"), "report")
    assert "PDF、JPEG、PNG" in caught.value.messages[0]


@pytest.mark.parametrize(("kind", "policy", "expected"), [
    ("jpeg", "image", uploads.JPEG), ("png", "scan", uploads.PNG), ("pdf", "report", uploads.PDF)])
def test_the_policy_decides_the_kind_from_the_content(kind, policy, expected):
    assert uploads.check(good(kind), policy) is expected


def test_a_pdf_is_not_a_picture():
    with pytest.raises(uploads.ValidationError):
        uploads.check(good("pdf"), "image")


def test_a_truncated_picture_is_refused():
    data = jpeg_bytes()
    with pytest.raises(uploads.ValidationError):
        uploads.check(SimpleUploadedFile("half.jpg", data[: len(data) // 2]), "image")


def test_the_stream_cap_drops_the_bytes_as_they_come_in():
    handler = uploads.CappedUploadHandler()
    handler.new_file("file", "big.pdf", "application/pdf", None)
    chunk = b"0" * (1024 * 1024)
    passed = sum(len(handler.receive_data_chunk(chunk, i) or b"") for i in range(30))
    assert passed <= uploads.STREAM_CAP
    stub = handler.file_complete(30 * len(chunk))
    assert stub.over_cap and stub.size == 30 * len(chunk) and stub.read() == b""
    with pytest.raises(uploads.ValidationError) as caught:
        uploads.check(stub, "scan")
    assert REFUSED_SIZE in caught.value.messages[0]


@isolate_apps("core")
def test_the_system_check_refuses_a_file_field_without_the_policy():
    class Plain(models.Model):
        document = models.FileField(upload_to="x/")

        class Meta:
            app_label = "core"

    class WithPolicy(models.Model):
        document = uploads.UploadField(upload_to="x/", policy="scan")
        file_meta = uploads.file_meta_field()

        class Meta:
            app_label = "core"

    assert [e.id for e in upload_field_errors([Plain])] == ["core.E010"]
    assert upload_field_errors([WithPolicy]) == []


# --- every field, through the pages ---------------------------------------------------------

@pytest.fixture
def shop(province):
    merchant, dossier = approved_merchant(province.bank_a, province.a_admin)
    product = listed_product(merchant, name="上传测试罗汉果")
    with schema_context(province.bank_a.schema_name):
        batch = batch_create(product=product, code="UP-1",
                             harvest_date=datetime.date(2026, 1, 5), farm="上传农场")
    return merchant, dossier, product, batch


def owner_of(merchant):
    return MerchantMember.objects.filter(merchant=merchant).select_related("user").first().user


def _post_page(client_on, province, shop, field, upload):
    """Post ``upload`` to the page of ``field``; return (response, the stored value)."""
    merchant, dossier, product, batch = shop
    bank = province.bank_a
    if field == "product_image":
        client = client_on(bank, owner_of(merchant))
        response = client.post(f"/merchant/{merchant.pk}/products/{product.pk}/", {
            "name": product.name, "category": product.category_id,
            "origin_county": "永福县", "image": upload})
        return response, Product.objects.get(pk=product.pk).image
    if field == "new_product_image":
        client = client_on(bank, owner_of(merchant))
        before = set(Product.objects.filter(merchant=merchant).values_list("pk", flat=True))
        response = client.post(f"/merchant/{merchant.pk}/products/new/", {
            "name": "新品", "category": product.category_id, "origin_county": "永福县",
            "image": upload, "sku-spec": "1斤", "sku-unit": "袋", "sku-price": "9.90",
            "sku-stock": "5"})
        new = Product.objects.filter(merchant=merchant).exclude(pk__in=before).first()
        return response, new.image if new else None
    if field == "batch_report_new":
        client = client_on(bank, owner_of(merchant))
        response = client.post(f"/merchant/{merchant.pk}/products/{product.pk}/batches/", {
            "batch-code": "UP-NEW", "batch-harvest_date": "2026-02-01", "batch-farm": "农场",
            "batch-report_file": upload})
        new = Batch.objects.filter(product=product, code="UP-NEW").first()
        return response, new.report_file if new else None
    if field == "batch_report":
        client = client_on(bank, owner_of(merchant))
        response = client.post(
            f"/merchant/{merchant.pk}/products/{product.pk}/batches/{batch.pk}/report/",
            {"report_file": upload})
        return response, Batch.objects.get(pk=batch.pk).report_file
    with schema_context(bank.schema_name):
        licence = Licence.objects.filter(dossier=dossier).first()
    if field == "licence_scan":
        client = client_on(bank, owner_of(merchant))
        response = client.post(f"/merchant/{merchant.pk}/licences/",
                               {"licence": licence.pk, "document": upload})
        with schema_context(bank.schema_name):
            return response, Licence.objects.get(pk=licence.pk).document
    if field == "dossier_document":
        client = client_on(bank, province.a_admin)
        response = client.post(f"/console/merchants/{merchant.pk}/documents/",
                               {"title": "营业执照副本", "file": upload}, follow=True)
        with schema_context(bank.schema_name):
            doc = DossierDocument.objects.filter(dossier=dossier).first()
            return response, doc.file if doc else None
    if field == "inspection_photo":
        client = client_on(bank, province.a_admin)
        response = client.post(f"/console/merchants/{merchant.pk}/inspections/", {
            "inspected_on": "2026-03-01", "findings": "复查合格", "verdict": "pass",
            "photo": upload}, follow=True)
        with schema_context(bank.schema_name):
            found = Inspection.objects.filter(dossier=dossier, findings="复查合格").first()
            return response, found.photo if found else None
    raise AssertionError(field)


PAGE_FIELDS = {"product_image": ("image", "jpeg"), "new_product_image": ("image", "png"),
               "batch_report_new": ("report", "pdf"), "batch_report": ("report", "jpeg"),
               "licence_scan": ("scan", "pdf"), "dossier_document": ("scan", "png"),
               "inspection_photo": ("image", "jpeg")}


@pytest.mark.parametrize("which", list(BAD))
@pytest.mark.parametrize("field", list(PAGE_FIELDS))
def test_pages_refuse_bad_files_with_the_message_and_keep_nothing(client_on, province, shop,
                                                                  field, which):
    response, stored = _post_page(client_on, province, shop, field, bad_file(which))
    assert not stored
    body = response.content.decode()
    if response.status_code == 302:  # messages shown on the next page
        body = response.client.get(response["Location"]).content.decode()
    assert refusal_of(which) in body


@pytest.mark.parametrize("field", list(PAGE_FIELDS))
def test_pages_keep_good_files_under_a_random_name(client_on, province, shop, field):
    policy, kind = PAGE_FIELDS[field]
    upload = good(kind)
    original = upload.name
    response, stored = _post_page(client_on, province, shop, field, upload)
    assert response.status_code in (200, 302), response.content[:500]
    assert stored, f"{field} kept nothing"
    name = Path(stored.name).name
    assert name.endswith(uploads.check(good(kind), policy).ext)
    assert original not in stored.name and len(Path(name).stem) == 32


# --- every field, through the API -----------------------------------------------------------

def _api_upload(api_on, province, shop, field, upload):
    merchant, dossier, product, batch = shop
    bank = province.bank_a
    if field == "product_image":
        response = api_on(bank, owner_of(merchant)).put(
            f"/api/v1/merchant/{merchant.pk}/products/{product.pk}/image/",
            {"image": upload}, format="multipart")
        return response, Product.objects.get(pk=product.pk).image
    if field == "batch_report":
        response = api_on(bank, owner_of(merchant)).put(
            f"/api/v1/merchant/{merchant.pk}/products/{product.pk}/batches/{batch.pk}/report/",
            {"report_file": upload}, format="multipart")
        return response, Batch.objects.get(pk=batch.pk).report_file
    with schema_context(bank.schema_name):
        licence = Licence.objects.filter(dossier=dossier).first()
    if field == "licence_scan":
        response = api_on(bank, owner_of(merchant)).put(
            f"/api/v1/merchant/{merchant.pk}/licences/{licence.pk}/scan/",
            {"document": upload}, format="multipart")
        with schema_context(bank.schema_name):
            return response, Licence.objects.get(pk=licence.pk).document
    if field == "dossier_document":
        response = api_on(bank, province.a_admin).post(
            f"/api/v1/console/merchants/{merchant.pk}/documents/",
            {"title": "章程", "file": upload}, format="multipart")
        with schema_context(bank.schema_name):
            doc = DossierDocument.objects.filter(dossier=dossier).first()
            return response, doc.file if doc else None
    if field == "inspection_photo":
        response = api_on(bank, province.a_admin).post(
            f"/api/v1/console/merchants/{merchant.pk}/inspections/",
            {"inspected_on": "2026-03-01", "findings": "接口复查", "verdict": "pass",
             "photo": upload}, format="multipart")
        with schema_context(bank.schema_name):
            found = Inspection.objects.filter(dossier=dossier, findings="接口复查").first()
            return response, found.photo if found else None
    raise AssertionError(field)


API_FIELDS = {"product_image": "png", "batch_report": "pdf", "licence_scan": "jpeg",
              "dossier_document": "pdf", "inspection_photo": "jpeg"}


@pytest.mark.parametrize("which", list(BAD))
@pytest.mark.parametrize("field", list(API_FIELDS))
def test_the_api_refuses_bad_files_with_a_400_and_keeps_nothing(api_on, province, shop, field,
                                                                which):
    response, stored = _api_upload(api_on, province, shop, field, bad_file(which))
    assert response.status_code == 400, response.content[:300]
    assert refusal_of(which) in response.content.decode()
    assert not stored


@pytest.mark.parametrize("field", list(API_FIELDS))
def test_the_api_keeps_good_files(api_on, province, shop, field):
    response, stored = _api_upload(api_on, province, shop, field, good(API_FIELDS[field]))
    assert response.status_code in (200, 201), response.content[:300]
    assert stored


# --- serving ---------------------------------------------------------------------------------

def _headers_say_it_cannot_run(response):
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp


@pytest.mark.parametrize(("kind", "content_type"), [
    ("jpeg", "image/jpeg"), ("png", "image/png"), ("pdf", "application/pdf")])
def test_public_files_are_served_with_their_real_type_and_a_sandbox(client_on, api_on,
                                                                    province, shop, kind,
                                                                    content_type):
    merchant, _dossier, product, batch = shop
    api_on(province.bank_a, owner_of(merchant)).put(
        f"/api/v1/merchant/{merchant.pk}/products/{product.pk}/batches/{batch.pk}/report/",
        {"report_file": good(kind)}, format="multipart")
    batch.refresh_from_db()
    response = client_on(province.bank_b).get(batch.report_file.url)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("inline")
    _headers_say_it_cannot_run(response)
    assert b"".join(response.streaming_content)[:4] in (b"\xff\xd8\xff\xe0"[:4], b"\x89PNG",
                                                         b"%PDF")


def test_a_stored_html_file_is_never_served_as_a_page(client_on, province):
    storage = Product._meta.get_field("image").storage
    name = storage.save("legacy/old-page.html", io.BytesIO(HTML))
    try:
        response = client_on(province.bank_a).get(storage.url(name))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
        _headers_say_it_cannot_run(response)
    finally:
        storage.delete(name)


def test_private_dossier_files_only_to_the_admitting_banks_staff(client_on, province, shop):
    merchant, dossier, _product, _batch = shop
    with schema_context(province.bank_a.schema_name):
        doc = document_add(dossier=dossier, title="现场照片", file=good("jpeg"),
                           actor=province.a_admin)
    url = f"/console/merchants/{merchant.pk}/files/document/{doc.pk}/"
    response = client_on(province.bank_a, province.a_admin).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    _headers_say_it_cannot_run(response)
    assert client_on(province.bank_b, province.b_admin).get(url).status_code == 404
    assert client_on(province.bank_a, owner_of(merchant)).get(url).status_code in (302, 403, 404)


def test_the_original_name_is_kept_as_data_and_shown_escaped(client_on, province, shop):
    merchant, dossier, _product, _batch = shop
    with schema_context(province.bank_a.schema_name):
        licence = Licence.objects.filter(dossier=dossier).first()
        licence_set_scan(dossier=dossier, licence_id=licence.pk, actor=owner_of(merchant),
                         document=SimpleUploadedFile('<img src=x onerror=alert(1)>.pdf',
                                                     pdf_bytes()))
        licence.refresh_from_db()
    assert uploads.original_name(licence, "document") == "<img src=x onerror=alert(1)>.pdf"
    body = client_on(province.bank_a, owner_of(merchant)).get(
        f"/merchant/{merchant.pk}/licences/").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in body
    assert "<img src=x" not in body


# --- files stored before the policy ---------------------------------------------------------

def test_the_quarantine_command_sets_bad_files_aside_and_deletes_nothing(province, tmp_path,
                                                                        settings, client_on):
    merchant, dossier = approved_merchant(province.bank_a, province.a_admin)
    product = listed_product(merchant, name="旧图片产品")
    storage = Product._meta.get_field("image").storage
    bad_name = storage.save("products/legacy/evil.png", io.BytesIO(SVG))
    good_name = storage.save("products/legacy/fine.png", io.BytesIO(png_bytes()))
    other = listed_product(merchant, name="好图片产品")
    Product.objects.filter(pk=product.pk).update(image=bad_name)
    Product.objects.filter(pk=other.pk).update(image=good_name)
    with schema_context(province.bank_a.schema_name):
        licence = Licence.objects.filter(dossier=dossier).first()
        licence.document.save("legacy-licence.html", io.BytesIO(HTML), save=True)
        private_path = Path(licence.document.path)
    settings.MEDIA_ROOT = tmp_path  # where the quarantine folder goes
    out = io.StringIO()
    call_command("uploads_quarantine", stdout=out)
    assert "set aside" in out.getvalue()

    product.refresh_from_db()
    other.refresh_from_db()
    assert not product.image and uploads.is_quarantined(product, "image")
    assert other.image.name == good_name and not uploads.is_quarantined(other, "image")
    moved = tmp_path / "quarantine" / "public" / bad_name
    assert moved.read_bytes() == SVG
    assert not Path(storage.path(bad_name)).exists()
    with schema_context(province.bank_a.schema_name):
        licence.refresh_from_db()
        assert not licence.document and uploads.is_quarantined(licence, "document")
    assert (tmp_path / "quarantine" / province.bank_a.schema_name
            / f"admission/licences/{private_path.name}").read_bytes() == HTML
    # Staff and merchant see that the file must be uploaded again.
    dossier_page = client_on(province.bank_a, province.a_admin).get(
        f"/console/merchants/{merchant.pk}/").content.decode()
    assert "重新上传" in dossier_page
    merchant_page = client_on(province.bank_a, owner_of(merchant)).get(
        f"/merchant/{merchant.pk}/licences/").content.decode()
    assert "重新上传" in merchant_page
    product_page = client_on(province.bank_a, owner_of(merchant)).get(
        f"/merchant/{merchant.pk}/products/{product.pk}/").content.decode()
    assert "重新上传" in product_page
    storage.delete(good_name)


def test_an_applicant_cannot_upload_a_page_as_the_licence_scan(client_on, province):
    dossier = apply_merchant(province.bank_a)
    with schema_context(province.bank_a.schema_name):
        dossier = Dossier.objects.get(pk=dossier.pk)
    applicant = user_register(username="upload-applicant", password=province.password)
    response = client_on(province.bank_a, applicant).post("/merchant/apply/", {
        "shop_name": "脚本合作社", "kind": "cooperative", "county": "甲县",
        "uscc": "91450300MA5K00099X", "legal_rep_name": "赵六",
        "legal_rep_id": "450302198001010999", "contact_phone": "13900000999",
        "address": "甲县", "licence_number": "L999", "licence_expires": "2031-01-01",
        "licence_scan": bad_file("html-as-pdf")})
    assert response.status_code == 400
    assert REFUSED_KIND in response.content.decode()
