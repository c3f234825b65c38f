"""Invoices (发票): the buyer asks, the shop issues (number, date, PDF) or rejects; only
paid orders that are not cancelled or refunded in full; bad input is a 400 with field
messages and changes nothing; someone else's order or shop is a 404; a month's invoices
download as one ZIP whose CSV sums to the fen."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pypdf import PdfWriter

from accounts.services import user_register
from core import uploads
from core.validators import validate_uscc
from fixtures.invoices_demo import SHOPPERS, demo_pdf, load_demo_invoices
from orders import services
from orders.models import InvoiceRequest, Order, OrderEvent
from tests import unique
from tests.catalog_factories import valid_uscc
from tests.orders_factories import market, pay, place

pytestmark = pytest.mark.django_db

USCC = valid_uscc(4242)
BAD_USCC = USCC[:17] + ("0" if USCC[17] != "0" else "1")


def pdf_bytes(text: str = "") -> bytes:

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if text:
        writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def shop(province):
    shop = market(province)
    shop.owner_a = shop.merchant_a.members.get().user
    shop.owner_b = shop.merchant_b.members.get().user
    return shop


@pytest.fixture
def me(province):
    return user_register(username=f"t-inv-{unique.tag()}", password=province.password)


def paid_order(province, me, shop, qty=2):
    """An order of merchant A's apples (45.50 each), paid by card."""
    checkout = place(me, province.bank_a, [(shop.sku_a, qty)])
    pay(checkout)
    return checkout.orders.get()


BUSINESS = {"kind": "business", "title": "甲县好物商贸有限公司", "taxpayer_number": USCC}


def ask(api, order, body=None):
    return api.post(f"/api/v1/orders/{order.number}/invoice/", body or BUSINESS,
                    format="json")


def issue(api, shop, invoice_id, **fields):
    body = {"invoice_number": "12345678", "issued_on": timezone.localdate().isoformat(),
            **fields}
    fmt = "multipart" if "pdf" in body else "json"
    return api.post(f"/api/v1/merchant/{shop.merchant_a.pk}/invoices/{invoice_id}/issue/",
                    body, format=fmt)


def counts(order):
    return (InvoiceRequest.objects.filter(order=order).count(),
            OrderEvent.objects.filter(order=order, kind__startswith="invoice").count())


def test_a_cancelled_order_cannot_be_invoiced_and_nothing_is_written(province, me, shop,
                                                                      api_on):
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)])
    services.checkout_cancel(checkout=checkout, reason="不要了")
    order = checkout.orders.get()
    response = ask(api_on(province.bank_a, me), order)
    assert response.status_code == 400
    assert order.number in response.json()["message"]
    assert counts(order) == (0, 0)


def test_an_unpaid_order_cannot_be_invoiced(province, me, shop, api_on):
    order = place(me, province.bank_a, [(shop.sku_a, 1)]).orders.get()
    assert ask(api_on(province.bank_a, me), order).status_code == 400
    assert counts(order) == (0, 0)


@pytest.mark.parametrize(("body", "field"), [
    ({**BUSINESS, "taxpayer_number": BAD_USCC}, "taxpayer_number"),
    ({**BUSINESS, "taxpayer_number": ""}, "taxpayer_number"),
    ({"kind": "business", "title": "某公司"}, "taxpayer_number"),
    ({**BUSINESS, "title": "  "}, "title"),
    ({"kind": "individual", "title": "张三", "invoice_type": "special"}, "invoice_type"),
    ({**BUSINESS, "email": "not-an-email"}, "email"),
    ({**BUSINESS, "kind": "club"}, "kind"),
])
def test_bad_input_is_a_400_on_its_field_and_changes_nothing(province, me, shop, api_on,
                                                             body, field):
    order = paid_order(province, me, shop)
    response = ask(api_on(province.bank_a, me), order, body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert counts(order) == (0, 0)


def test_a_wrong_check_character_is_named_as_the_merchants_form_does(province, me, shop,
                                                                      api_on):


    with pytest.raises(ValidationError) as merchants_form:
        validate_uscc(BAD_USCC)
    order = paid_order(province, me, shop)
    response = ask(api_on(province.bank_a, me), order,
                   {**BUSINESS, "taxpayer_number": BAD_USCC})
    assert response.json()["errors"]["taxpayer_number"] == merchants_form.value.messages


def test_only_the_buyer_reaches_the_orders_invoice(province, me, shop, api_on):
    order = paid_order(province, me, shop)
    other = user_register(username=f"t-inv-o-{unique.tag()}", password=province.password)
    stranger = api_on(province.bank_a, other)
    assert ask(stranger, order).status_code == 404
    assert stranger.get(f"/api/v1/orders/{order.number}/invoice/").status_code == 404
    assert counts(order) == (0, 0)


def test_one_live_request_per_order_and_a_rejected_one_may_be_asked_again(province, me, shop,
                                                                          api_on):
    order = paid_order(province, me, shop)
    buyer = api_on(province.bank_a, me)
    first = ask(buyer, order)
    assert first.status_code == 201, first.json()
    assert first.json()["status"] == "requested"
    again = ask(buyer, order, {"kind": "individual", "title": "张三"})
    assert again.status_code == 400
    assert counts(order) == (1, 1)

    owner = api_on(province.bank_a, shop.owner_a)
    base = f"/api/v1/merchant/{shop.merchant_a.pk}/invoices/{first.json()['id']}/"
    assert owner.post(f"{base}reject/", {"reason": ""}, format="json").status_code == 400
    rejected = owner.post(f"{base}reject/", {"reason": "抬头与营业执照不符"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    box = buyer.get(f"/api/v1/orders/{order.number}/invoice/").json()
    assert box["can_ask"] is True and box["invoice"]["reject_reason"] == "抬头与营业执照不符"
    assert ask(buyer, order, {"kind": "individual", "title": "张三"}).status_code == 201
    withdrawn = buyer.post(f"/api/v1/orders/{order.number}/invoice/withdraw/")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    kinds = list(OrderEvent.objects.filter(order=order, kind__startswith="invoice")
                 .values_list("kind", flat=True))
    assert kinds == ["invoice_requested", "invoice_rejected", "invoice_requested",
                     "invoice_withdrawn"]


def test_a_member_of_another_shop_gets_404(province, me, shop, api_on):
    order = paid_order(province, me, shop)
    invoice_id = ask(api_on(province.bank_a, me), order).json()["id"]
    other = api_on(province.bank_a, shop.owner_b)
    # Merchant B's owner, under A's shop id and under his own shop's id (wrong bank's
    # domain for B as well as not his invoice).
    assert issue(other, shop, invoice_id).status_code == 404
    own = api_on(province.bank_b, shop.owner_b)
    for path in (f"/api/v1/merchant/{shop.merchant_b.pk}/invoices/{invoice_id}/issue/",
                 f"/api/v1/merchant/{shop.merchant_b.pk}/invoices/{invoice_id}/reject/"):
        assert own.post(path, {"invoice_number": "12345678", "reason": "x",
                               "issued_on": "2026-01-01"}, format="json").status_code == 404
    assert InvoiceRequest.objects.get(pk=invoice_id).status == "requested"


def test_issue_with_number_and_pdf_and_the_buyer_downloads_it(province, me, shop, api_on):
    order = paid_order(province, me, shop)
    buyer = api_on(province.bank_a, me)
    invoice_id = ask(buyer, order).json()["id"]
    owner = api_on(province.bank_a, shop.owner_a)

    html = SimpleUploadedFile("invoice.pdf", b"<html><script>alert(1)</script></html>",
                              content_type="application/pdf")
    refused = issue(owner, shop, invoice_id, pdf=html)
    assert refused.status_code == 400 and "pdf" in refused.json()["errors"]
    assert issue(owner, shop, invoice_id, invoice_number="1234").status_code == 400
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert issue(owner, shop, invoice_id, issued_on=tomorrow).status_code == 400
    assert InvoiceRequest.objects.get(pk=invoice_id).status == "requested"

    content = pdf_bytes("发票 98765432101234567890")
    done = issue(owner, shop, invoice_id, invoice_number="98765432101234567890",
                 pdf=SimpleUploadedFile("fp.pdf", content, content_type="text/html"))
    assert done.status_code == 200, done.json()
    data = done.json()
    assert (data["status"], data["invoice_number"], data["amount"]) == (
        "issued", "98765432101234567890", "99.00")  # 2 × 45.50 + 8.00
    assert data["pdf_url"]

    download = buyer.get(f"/api/v1/orders/{order.number}/invoice/pdf/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment")
    assert "sandbox" in download["Content-Security-Policy"]
    assert b"".join(download.streaming_content) == content
    stranger = api_on(province.bank_a, user_register(username=f"t-inv-s-{unique.tag()}",
                                                     password=province.password))
    assert stranger.get(f"/api/v1/orders/{order.number}/invoice/pdf/").status_code == 404
    event = OrderEvent.objects.get(order=order, kind="invoice_issued")
    assert event.actor == shop.owner_a and event.detail["amount"] == "99.00"
    # Issued is final: neither rejected nor withdrawn afterwards.
    base = f"/api/v1/merchant/{shop.merchant_a.pk}/invoices/{invoice_id}/"
    assert owner.post(f"{base}reject/", {"reason": "x"}, format="json").status_code == 400
    assert buyer.post(f"/api/v1/orders/{order.number}/invoice/withdraw/").status_code == 400


def test_the_amount_excludes_refunds_and_an_open_refund_waits(province, me, shop, api_on):
    order = paid_order(province, me, shop)
    order.refresh_from_db()
    total = order.total
    buyer = api_on(province.bank_a, me)
    invoice_id = ask(buyer, order).json()["id"]
    refund = services.refund_request(order=order, actor=me, amount="10.05", reason="少一个")
    owner = api_on(province.bank_a, shop.owner_a)
    assert issue(owner, shop, invoice_id).status_code == 400
    assert InvoiceRequest.objects.get(pk=invoice_id).status == "requested"
    services.refund_decide(refund=refund, actor=shop.owner_a, approve=True)
    done = issue(owner, shop, invoice_id)
    assert done.status_code == 200, done.json()
    assert Decimal(done.json()["amount"]) == total - Decimal("10.05")


def test_a_fully_refunded_order_cannot_be_invoiced(province, me, shop, api_on):
    order = paid_order(province, me, shop)
    order.refresh_from_db()
    services.refund_issue(order=order, actor=shop.owner_a, amount=order.total, reason="缺货")
    response = ask(api_on(province.bank_a, me), order)
    assert response.status_code == 400
    assert counts(order) == (0, 0)


def test_the_month_archive_holds_exactly_the_months_invoices(province, me, shop, api_on):
    buyer = api_on(province.bank_a, me)
    owner = api_on(province.bank_a, shop.owner_a)
    today = timezone.localdate()
    last_month = (today.replace(day=1) - datetime.timedelta(days=1))
    orders = [paid_order(province, me, shop, qty=q) for q in (1, 2, 3, 1)]
    ids = [ask(buyer, o).json()["id"] for o in orders]
    # Pay dates are today; an invoice of last month needs an earlier payment date.
    Order.objects.filter(pk=orders[3].pk).update(
        paid_at=timezone.now() - datetime.timedelta(days=40))
    services.refund_issue(order=orders[2], actor=shop.owner_a, amount="0.33", reason="破损")
    contents = {}
    for n, (order, invoice_id) in enumerate(zip(orders[:3], ids[:3], strict=True)):
        contents[order.number] = pdf_bytes(f"invoice {n}")
        pdf = SimpleUploadedFile("x.pdf", contents[order.number]) if n != 1 else None
        body = {"invoice_number": f"4400000{n}", **({"pdf": pdf} if pdf else {})}
        assert issue(owner, shop, invoice_id, **body).status_code == 200
    assert issue(owner, shop, ids[3], invoice_number="44000009",
                 issued_on=last_month.isoformat()).status_code == 200

    month = today.strftime("%Y-%m")
    listed = buyer.get(f"/api/v1/me/invoices/?month={month}").json()
    assert sorted(r["order"] for r in listed["results"]) == sorted(o.number for o in orders[:3])
    response = buyer.get(f"/api/v1/me/invoices/archive/?month={month}")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    pdfs = [n for n in archive.namelist() if n.endswith(".pdf")]
    assert len(pdfs) == 2   # the second invoice has no PDF
    for name in pdfs:
        number = name.split("-", 2)[2].removesuffix(".pdf")
        assert archive.read(name) == contents[number]
    [summary] = [n for n in archive.namelist() if n.endswith(".csv")]
    rows = list(csv.reader(io.StringIO(archive.read(summary).decode("utf-8-sig"))))
    body, total = rows[1:-1], rows[-1]
    assert sorted(r[2] for r in body) == sorted(o.number for o in orders[:3])
    expected = sum((o.total for o in Order.objects.filter(pk__in=[o.pk for o in orders[:3]])),
                   Decimal("0")) - Decimal("0.33")
    assert sum(Decimal(r[7]) for r in body) == Decimal(total[7]) == expected

    previous = buyer.get(f"/api/v1/me/invoices/archive/?month={last_month:%Y-%m}")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(previous.streaming_content)))
    rows = list(csv.reader(io.StringIO(archive.read(archive.namelist()[0]).decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:-1]] == ["44000009"]


def test_an_empty_month_gives_a_valid_archive_and_a_bad_month_a_400(province, me, api_on):
    buyer = api_on(province.bank_a, me)
    response = buyer.get("/api/v1/me/invoices/archive/?month=2001-02")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    [summary] = archive.namelist()
    rows = list(csv.reader(io.StringIO(archive.read(summary).decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[-1][7] == "0.00"
    for bad in ("2026-13", "26-01", "", "2026-1"):
        response = buyer.get(f"/api/v1/me/invoices/archive/?month={bad}")
        assert response.status_code == 400 and "month" in response.json()["errors"]


# --- pages ---------------------------------------------------------------------------------


def test_the_shopper_asks_on_the_order_page_without_script(province, me, shop, client_on):
    order = paid_order(province, me, shop)
    page = client_on(province.bank_a, me)
    html = page.get(f"/orders/{order.number}/").content.decode()
    assert f"/orders/{order.number}/invoice/" in html
    form = page.get(f"/orders/{order.number}/invoice/")
    assert form.status_code == 200 and 'name="taxpayer_number"' in form.content.decode()

    refused = page.post(f"/orders/{order.number}/invoice/",
                        {"kind": "business", "title": "某公司", "taxpayer_number": ""})
    assert refused.status_code == 400
    assert "errorlist" in refused.content.decode()
    assert counts(order) == (0, 0)
    # An individual's title: a taxpayer number typed anyway is not kept.
    done = page.post(f"/orders/{order.number}/invoice/",
                     {"kind": "individual", "title": "张三", "taxpayer_number": USCC})
    assert done.status_code == 302
    invoice = InvoiceRequest.objects.get(order=order)
    assert (invoice.kind, invoice.taxpayer_number, invoice.status) == ("individual", "",
                                                                       "requested")
    html = page.get(f"/orders/{order.number}/").content.decode()
    assert f"/orders/{order.number}/invoice/withdraw/" in html
    assert page.post(f"/orders/{order.number}/invoice/withdraw/").status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "withdrawn"


def test_the_page_refuses_a_cancelled_order_with_a_message(province, me, shop, client_on):
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)])
    services.checkout_cancel(checkout=checkout, reason="不要了")
    order = checkout.orders.get()
    page = client_on(province.bank_a, me)
    assert f"/orders/{order.number}/invoice/" not in page.get(
        f"/orders/{order.number}/").content.decode()
    response = page.post(f"/orders/{order.number}/invoice/", {"kind": "individual",
                                                              "title": "张三"}, follow=True)
    assert order.number in response.content.decode()
    assert counts(order) == (0, 0)


def test_the_merchant_issues_on_the_console_and_the_buyer_downloads(province, me, shop,
                                                                     client_on):
    order = paid_order(province, me, shop)
    invoice = services.invoice_request(order=order, actor=me, **BUSINESS)
    console = client_on(province.bank_a, shop.owner_a)
    base = f"/merchant/{shop.merchant_a.pk}/invoices/"
    assert order.number in console.get(base).content.decode()
    assert console.get(f"{base}{invoice.pk}/").status_code == 200
    # Another shop's member: 404 on the list and the request.
    other = client_on(province.bank_a, shop.owner_b)
    assert other.get(base).status_code == 404
    assert other.get(f"{base}{invoice.pk}/").status_code == 404

    png = SimpleUploadedFile("fp.pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 64,
                             content_type="application/pdf")
    refused = console.post(f"{base}{invoice.pk}/issue/", {
        "invoice_number": "20260001", "issued_on": timezone.localdate().isoformat(),
        "pdf": png})
    assert refused.status_code == 400 and "PDF" in refused.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == "requested" and not invoice.pdf
    content = pdf_bytes("page")
    done = console.post(f"{base}{invoice.pk}/issue/", {
        "invoice_number": "20260001", "issued_on": timezone.localdate().isoformat(),
        "pdf": SimpleUploadedFile("fp.pdf", content)})
    assert done.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "issued" and invoice.invoice_number == "20260001"

    buyer = client_on(province.bank_a, me)
    html = buyer.get(f"/orders/{order.number}/").content.decode()
    assert "20260001" in html and f"/orders/{order.number}/invoice/pdf/" in html
    pdf = buyer.get(f"/orders/{order.number}/invoice/pdf/")
    assert b"".join(pdf.streaming_content) == content
    assert pdf["Content-Disposition"].startswith("attachment")
    assert client_on(province.bank_a, shop.owner_b).get(
        f"/orders/{order.number}/invoice/pdf/").status_code == 404

    month = timezone.localdate().strftime("%Y-%m")
    mine = buyer.get(f"/invoices/?month={month}").content.decode()
    assert "20260001" in mine and f"/invoices/archive/?month={month}" in mine
    archive = buyer.get(f"/invoices/archive/?month={month}")
    names = zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))).namelist()
    assert any(n.endswith(f"{order.number}.pdf") for n in names)
    assert buyer.get("/invoices/?month=2026-13").status_code == 400


def test_the_merchant_rejects_with_a_reason_on_the_console(province, me, shop, client_on):
    order = paid_order(province, me, shop)
    invoice = services.invoice_request(order=order, actor=me, kind="individual", title="张三")
    console = client_on(province.bank_a, shop.owner_a)
    base = f"/merchant/{shop.merchant_a.pk}/invoices/{invoice.pk}/"
    assert console.post(f"{base}reject/", {"reason": ""}).status_code == 400
    assert console.post(f"{base}reject/", {"reason": "请填写单位全称"}).status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.reject_reason) == ("rejected", "请填写单位全称")
    html = client_on(province.bank_a, me).get(f"/orders/{order.number}/").content.decode()
    assert "请填写单位全称" in html


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_invoices_load_once_through_the_services(province, shop):


    pdf = SimpleUploadedFile("x.pdf", demo_pdf(["Demo e-invoice", "No. 12345678"]))
    assert uploads.check(pdf, "invoice") is uploads.PDF
    User = get_user_model()
    users = {}
    for name in SHOPPERS:
        users[name] = User.objects.filter(username=name).first() or user_register(
            username=name, password=province.password, display_name=name)
    users["buyer-chen"].business_name = "陈记农资商行"
    users["buyer-chen"].save()
    for name in SHOPPERS:
        paid_order(province, users[name], shop, qty=1)
    paid_order(province, users["buyer-chen"], shop, qty=1)

    first = load_demo_invoices(banks=[province.bank_a])
    assert first.counts == {"invoices": 4}
    mine = InvoiceRequest.objects.filter(order__buyer__username__in=SHOPPERS)
    assert sorted(mine.values_list("status", flat=True)) == ["issued", "issued", "requested",
                                                             "requested"]
    assert all(i.pdf for i in mine.filter(status="issued"))
    assert load_demo_invoices(banks=[province.bank_a]).counts == {"invoices": 0}
