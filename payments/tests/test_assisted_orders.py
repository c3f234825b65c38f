"""Assisted ordering at a branch desk through the real services and database: staff place
a checkout for a customer found (or registered) by mobile number, the customer confirms
with the code texted to them (wrong, expired and too many codes refused, nothing paid),
the desk takes the money (ledger balanced within each bank, inter-bank when the merchant
is another bank's), the goods are picked up at the branch, a refund gives cash back at
the desk; another bank's staff see none of it."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from core import sms
from core.errors import ApplicationError
from orders import assisted as desk_orders
from orders import services as orders
from orders.models import AssistedOrder, CheckoutStatus, Fulfilment, OrderStatus
from payments import desk
from payments.models import DeskPayment, LedgerTransaction, Payment, Posting
from tests import unique
from tests.orders_factories import market, pay

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sms_in_memory(settings):
    settings.SMS_BACKEND = "core.sms.LocmemBackend"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def _phone() -> str:
    return unique.mobile("139")


def _code_of(phone: str) -> str:
    texts = [m.text for m in sms.outbox if m.phone == phone]
    assert texts, "no SMS was sent"
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)


def _start(province, shop, phone, capture, *, lines=None, staff=None, bank=None):
    with capture(execute=True):
        return desk_orders.assisted_checkout_start(
            staff=staff or province.a_manager, bank=bank or province.bank_a,
            branch_id=province.a_branch.pk, customer_phone=phone, customer_name="李奶奶",
            lines=lines or [(shop.sku_a.pk, 2), (shop.sku_b.pk, 1)])


def _balanced_per_bank(txn: LedgerTransaction) -> dict[int, Decimal]:
    sums: dict[int, Decimal] = {}
    for posting in Posting.objects.filter(transaction=txn).select_related("account"):
        sums[posting.account.bank_id] = sums.get(posting.account.bank_id, 0) + posting.amount
    assert all(v == 0 for v in sums.values()), sums
    return sums


def test_the_whole_flow_register_confirm_pay_at_desk_pick_up_and_refund_cash(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    phone = _phone()
    stock_a = shop.sku_a.stock
    assisted = _start(province, shop, phone, django_capture_on_commit_callbacks)
    checkout = assisted.checkout
    customer = checkout.buyer
    # A new account for the number, without a password; every order picked up at the branch.
    assert customer.phone == phone and not customer.has_usable_password()
    assert checkout.storefront_bank_id == province.bank_a.pk
    assert {o.fulfilment for o in checkout.orders.all()} == {Fulfilment.PICKUP}
    assert {o.pickup_branch_id for o in checkout.orders.all()} == {province.a_branch.pk}
    shop.sku_a.refresh_from_db()
    assert shop.sku_a.stock == stock_a - 2
    code = _code_of(phone)
    assert code not in assisted.code_hash and len(assisted.code_hash) == 64

    # Not payable before confirmation, neither at the desk nor by card.
    with pytest.raises(ApplicationError) as exc:
        desk.checkout_pay_at_desk(checkout=checkout, staff=province.a_manager,
                                  branch=province.a_branch, receipt_number="R-1")
    assert exc.value.code == "not_confirmed"
    with pytest.raises(ApplicationError):
        pay(checkout)
    assert not DeskPayment.objects.filter(checkout=checkout).exists()
    assert not Payment.objects.filter(checkout=checkout).exists()

    desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_a,
                                 staff=province.a_manager, code=code)
    payment = desk.checkout_pay_at_desk(checkout=checkout, staff=province.a_manager,
                                        branch=province.a_branch, receipt_number="R-0001")
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    assert payment.amount == checkout.cash_due == checkout.total
    txn = LedgerTransaction.objects.get(kind="desk_capture", checkout=checkout)
    sums = _balanced_per_bank(txn)
    assert set(sums) == {province.bank_a.pk, province.bank_b.pk}
    kinds = set(Posting.objects.filter(transaction=txn).values_list("account__kind", flat=True))
    assert {"branch_cash", "escrow", "interbank_payable", "interbank_receivable"} == kinds
    cash_postings = Posting.objects.filter(transaction=txn, account__kind="branch_cash")
    assert {p.account.bank_id for p in cash_postings} == {province.bank_a.pk}
    assert sum(p.amount for p in cash_postings) == checkout.total
    cash = cash_postings.first()
    # Paying twice is refused.
    with pytest.raises(ApplicationError):
        desk.checkout_pay_at_desk(checkout=checkout, staff=province.a_manager,
                                  branch=province.a_branch, receipt_number="R-0002")

    # Picked up at the branch through the existing pickup flow.
    for order in checkout.orders.all():
        with django_capture_on_commit_callbacks(execute=True):
            orders.order_ready_for_pickup(order=order, actor=province.a_manager)
        order.refresh_from_db()
        # The customer gets the pickup code by SMS (they may never use the website).
        assert order.pickup_code in sms.outbox[-1].text and sms.outbox[-1].phone == phone
        orders.pickup_verify(bank=province.bank_a, code=order.pickup_code,
                             actor=province.a_manager)
        order.refresh_from_db()
        assert order.status == OrderStatus.PICKED_UP

    # A refund of the other bank's merchant's order: cash back at the desk.
    order_b = checkout.orders.get(merchant=shop.merchant_b)
    refund = orders.refund_issue(order=order_b, actor=province.b_manager,
                                 amount=Decimal("10.00"), reason="少了一瓶")
    assert refund.gateway_reference.startswith("desk:")
    assert refund.cash_amount == Decimal("10.00")
    rtxn = LedgerTransaction.objects.get(refund=refund)
    _balanced_per_bank(rtxn)
    back = Posting.objects.get(transaction=rtxn, account__kind="branch_cash")
    assert back.amount == Decimal("-10.00") and back.account.bank_id == province.bank_a.pk
    held = Posting.objects.filter(account=cash.account, order=order_b).aggregate(
        s=Sum("amount"))["s"]
    assert held == order_b.total - Decimal("10.00")


def test_an_existing_customer_is_found_by_phone(province, django_capture_on_commit_callbacks):
    shop = market(province)
    assisted = _start(province, shop, province.shopper.phone,
                      django_capture_on_commit_callbacks, lines=[(shop.sku_a.pk, 1)])
    assert assisted.checkout.buyer_id == province.shopper.pk


def test_a_wrong_code_counts_and_five_lock_the_order_nothing_paid(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    phone = _phone()
    assisted = _start(province, shop, phone, django_capture_on_commit_callbacks)
    code = _code_of(phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for n in range(1, 6):
        with pytest.raises(ApplicationError) as exc:
            desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_a,
                                         staff=province.a_manager, code=wrong)
        assisted.refresh_from_db()
        assert assisted.attempts == n and assisted.confirmed_at is None
    assert exc.value.code == "locked"
    # Even the right code is refused now.
    with pytest.raises(ApplicationError) as exc:
        desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_a,
                                     staff=province.a_manager, code=code)
    assert exc.value.code == "locked"
    with pytest.raises(ApplicationError):
        desk.checkout_pay_at_desk(checkout=assisted.checkout, staff=province.a_manager,
                                  branch=province.a_branch, receipt_number="R-9")
    assert not DeskPayment.objects.filter(checkout=assisted.checkout).exists()
    # A new code unlocks it; the old one no longer works.
    with django_capture_on_commit_callbacks(execute=True):
        desk_orders.assisted_code_resend(assisted=assisted, bank=province.bank_a,
                                         staff=province.a_manager)
    new = _code_of(phone)
    if new != code:
        with pytest.raises(ApplicationError):
            desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_a,
                                         staff=province.a_manager, code=code)
    desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_a,
                                 staff=province.a_manager, code=new)
    assisted.refresh_from_db()
    assert assisted.confirmed_at is not None and assisted.codes_sent == 2


def test_an_expired_code_is_refused(province, django_capture_on_commit_callbacks):
    shop = market(province)
    phone = _phone()
    assisted = _start(province, shop, phone, django_capture_on_commit_callbacks)
    AssistedOrder.objects.filter(pk=assisted.pk).update(
        code_expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ApplicationError) as exc:
        desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_a,
                                     staff=province.a_manager, code=_code_of(phone))
    assert exc.value.code == "expired"
    assisted.refresh_from_db()
    assert assisted.confirmed_at is None
    assert assisted.checkout.status == CheckoutStatus.PENDING_PAYMENT


def test_bad_input_changes_nothing(province, django_capture_on_commit_callbacks):

    shop = market(province)
    before = AssistedOrder.objects.count()
    for kwargs in (
        {"customer_phone": "12345"},
        {"lines": []},
        {"lines": [(shop.sku_a.pk, "x")]},
        {"lines": [(10**9, 1)]},
        {"branch_id": province.b_branch.pk},
        {"branch_id": "nope"},
    ):
        args = {"staff": province.a_manager, "bank": province.bank_a,
                "branch_id": province.a_branch.pk, "customer_phone": _phone(),
                "lines": [(shop.sku_a.pk, 1)], **kwargs}
        with pytest.raises((ValidationError, ApplicationError)):
            desk_orders.assisted_checkout_start(**args)
    assert AssistedOrder.objects.count() == before
    assert not sms.outbox


def test_another_banks_staff_can_do_nothing_with_it(province,
                                                    django_capture_on_commit_callbacks):
    shop = market(province)
    phone = _phone()
    assisted = _start(province, shop, phone, django_capture_on_commit_callbacks)
    code = _code_of(phone)
    with pytest.raises(ApplicationError) as exc:
        desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_b,
                                     staff=province.b_manager, code=code)
    assert exc.value.code == "not_found"
    with pytest.raises(ApplicationError):  # staff of B on bank A's books
        desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_a,
                                     staff=province.b_manager, code=code)
    desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_a,
                                 staff=province.a_manager, code=code)
    with pytest.raises(ApplicationError) as exc:
        desk.checkout_pay_at_desk(checkout=assisted.checkout, staff=province.b_manager,
                                  branch=province.b_branch, receipt_number="R-1")
    assert exc.value.code == "not_found"
    assert not DeskPayment.objects.filter(checkout=assisted.checkout).exists()


def test_a_confirmed_assisted_order_can_be_paid_by_card_and_cancelled_one_gives_stock_back(
        province, django_capture_on_commit_callbacks):
    shop = market(province)
    phone = _phone()
    assisted = _start(province, shop, phone, django_capture_on_commit_callbacks)
    desk_orders.assisted_confirm(assisted=assisted, bank=province.bank_a,
                                 staff=province.a_manager, code=_code_of(phone))
    payment = pay(assisted.checkout)
    assert payment.status == "succeeded"

    stock = shop.sku_a.__class__.objects.get(pk=shop.sku_a.pk).stock
    other = _start(province, shop, _phone(), django_capture_on_commit_callbacks,
                   lines=[(shop.sku_a.pk, 3)])
    desk_orders.assisted_cancel(assisted=other, bank=province.bank_a, staff=province.a_manager)
    other.checkout.refresh_from_db()
    assert other.checkout.status == CheckoutStatus.CANCELLED
    assert shop.sku_a.__class__.objects.get(pk=shop.sku_a.pk).stock == stock


# --- pages ----------------------------------------------------------------------------------


def test_desk_pages_place_confirm_pay_wait_and_print(province, client_on,
                                                      django_capture_on_commit_callbacks):
    shop = market(province)
    web = client_on(province.bank_a, province.a_manager)
    assert web.get("/console/desk/").status_code == 200
    page = web.get("/console/desk/new/", {"q": "苹果", "branch": province.a_branch.pk})
    assert page.status_code == 200 and f'name="qty_{shop.sku_a.pk}"'.encode() in page.content

    # Bad input: a page with the message, nothing placed.
    before = AssistedOrder.objects.count()
    bad = web.post("/console/desk/new/", {"place": "1", "customer_phone": "123",
                                          "branch": province.a_branch.pk,
                                          f"qty_{shop.sku_a.pk}": "2"})
    assert bad.status_code == 400 and AssistedOrder.objects.count() == before
    bad = web.post("/console/desk/new/", {"place": "1", "customer_phone": _phone(),
                                          "branch": province.a_branch.pk,
                                          f"qty_{shop.sku_a.pk}": "abc"})
    assert bad.status_code == 400 and AssistedOrder.objects.count() == before

    phone = _phone()
    with django_capture_on_commit_callbacks(execute=True):
        placed = web.post("/console/desk/new/", {
            "place": "1", "customer_phone": phone, "customer_name": "王大爷",
            "branch": province.a_branch.pk, f"qty_{shop.sku_a.pk}": "2",
            f"qty_{shop.sku_b.pk}": "1"})
    assert placed.status_code == 302
    assisted = AssistedOrder.objects.get(customer_phone=phone)
    number = assisted.checkout.number
    assert placed["Location"] == f"/console/desk/{number}/"
    assert web.get(f"/console/desk/{number}/").status_code == 200
    # Not payable before the code.
    refused = web.post(f"/console/desk/pay/{number}/", {"method": "desk",
                                                        "receipt_number": "R-77"})
    assert refused.status_code == 400
    assert not DeskPayment.objects.filter(checkout=assisted.checkout).exists()
    wrong = web.post(f"/console/desk/{number}/confirm/", {"code": "abcdef"})
    assert wrong.status_code == 400
    web.post(f"/console/desk/{number}/confirm/", {"code": _code_of(phone)})
    assisted.refresh_from_db()
    assert assisted.confirmed_at is not None
    pay_page = web.get(f"/console/desk/pay/{number}/")
    assert pay_page.status_code == 200
    assert str(assisted.checkout.cash_due).encode() in pay_page.content
    assert web.post(f"/console/desk/pay/{number}/",
                    {"method": "desk", "receipt_number": ""}).status_code == 400
    done = web.post(f"/console/desk/pay/{number}/", {"method": "desk",
                                                     "receipt_number": "R-77"})
    assert done.status_code == 302
    assert DeskPayment.objects.get(checkout=assisted.checkout).receipt_number == "R-77"

    waiting = web.get("/console/desk/waiting/", {"branch": province.a_branch.pk})
    for order in assisted.checkout.orders.all():
        assert order.number.encode() in waiting.content
        slip = web.get(f"/console/desk/slip/{order.number}/")
        assert slip.status_code == 200 and order.lines.first().product_name.encode() \
            in slip.content

    # Another bank's staff: 404 everywhere; a shopper: 404 too.
    other = client_on(province.bank_a, province.b_manager)
    for url in (f"/console/desk/{number}/", f"/console/desk/pay/{number}/",
                "/console/desk/", f"/console/desk/slip/{order.number}/"):
        assert other.get(url).status_code == 404
    on_b = client_on(province.bank_b, province.b_manager)
    assert on_b.get(f"/console/desk/{number}/").status_code == 404
    assert on_b.get(f"/console/desk/slip/{order.number}/").status_code == 404
    assert client_on(province.bank_a, province.shopper).get("/console/desk/").status_code == 404


def test_desk_card_payment_with_a_declined_card_then_a_good_one(
        province, client_on, django_capture_on_commit_callbacks):
    shop = market(province)
    web = client_on(province.bank_a, province.a_admin)
    phone = _phone()
    assisted = _start(province, shop, phone, django_capture_on_commit_callbacks,
                      lines=[(shop.sku_a.pk, 1)], staff=province.a_admin)
    number = assisted.checkout.number
    web.post(f"/console/desk/{number}/confirm/", {"code": _code_of(phone)})
    declined = web.post(f"/console/desk/pay/{number}/", {
        "method": "card", "number": "4000000000000341", "exp": "12/30", "cvc": "123",
        "idempotency_key": uuid.uuid4().hex})
    assert declined.status_code == 400
    ok = web.post(f"/console/desk/pay/{number}/", {
        "method": "card", "number": "4242424242424242", "exp": "12/30", "cvc": "123",
        "idempotency_key": uuid.uuid4().hex})
    assert ok.status_code == 302
    assisted.checkout.refresh_from_db()
    assert assisted.checkout.status == CheckoutStatus.PAID
    assert not DeskPayment.objects.filter(checkout=assisted.checkout).exists()


# --- API ------------------------------------------------------------------------------------


def test_desk_api_place_confirm_pay_and_isolation(province, api_on,
                                                  django_capture_on_commit_callbacks):
    shop = market(province)
    api = api_on(province.bank_a, province.a_manager)
    phone = _phone()
    base = "/api/v1/console/desk/assisted/"
    bad = api.post(base, {"branch": province.a_branch.pk, "customer_phone": phone,
                          "lines": []}, format="json")
    assert bad.status_code == 400 and bad.json()["message"]
    bad = api.post(base, {"branch": province.b_branch.pk, "customer_phone": phone,
                          "lines": [{"sku": shop.sku_a.pk, "quantity": 1}]}, format="json")
    assert bad.status_code == 400 and "branch" in bad.json()["errors"]
    assert not AssistedOrder.objects.filter(customer_phone=phone).exists()

    with django_capture_on_commit_callbacks(execute=True):
        made = api.post(base, {"branch": province.a_branch.pk, "customer_phone": phone,
                               "lines": [{"sku": shop.sku_a.pk, "quantity": 2}]},
                        format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    number = body["number"]
    assert body["confirmed"] is False and body["customer_phone"].startswith(phone[:3])
    assert "****" in body["customer_phone"] and body["orders"][0]["lines"][0]["quantity"] == 2

    pay = api.post(f"{base}{number}/pay-at-desk/", {"receipt_number": "API-1"}, format="json")
    assert pay.status_code == 400 and not DeskPayment.objects.filter(
        checkout__number=number).exists()
    wrong = api.post(f"{base}{number}/confirm/", {"code": "000000" if _code_of(phone)
                                                  != "000000" else "111111"}, format="json")
    assert wrong.status_code == 400
    assert api.get(f"{base}{number}/").json()["attempts"] == 1

    # Another bank's staff: 404 on this bank's domain and on their own.
    for other in (api_on(province.bank_a, province.b_manager),
                  api_on(province.bank_b, province.b_manager)):
        assert other.get(f"{base}{number}/").status_code == 404
        assert other.post(f"{base}{number}/confirm/", {"code": _code_of(phone)},
                          format="json").status_code == 404
        assert other.post(f"{base}{number}/pay-at-desk/", {"receipt_number": "X"},
                          format="json").status_code == 404
    assert api_on(province.bank_b, province.b_manager).get(
        "/api/v1/console/desk/assisted/").json() == [] or all(
        a["number"] != number for a in api_on(province.bank_b, province.b_manager).get(
            "/api/v1/console/desk/assisted/").json())

    ok = api.post(f"{base}{number}/confirm/", {"code": _code_of(phone)}, format="json")
    assert ok.status_code == 200 and ok.json()["confirmed"] is True
    paid = api.post(f"{base}{number}/pay-at-desk/", {"receipt_number": "API-1"},
                    format="json")
    assert paid.status_code == 201 and paid.json()["receipt_number"] == "API-1"
    assert paid.json()["amount"] == body["cash_due"]
    again = api.post(f"{base}{number}/pay-at-desk/", {"receipt_number": "API-2"},
                     format="json")
    assert again.status_code == 400
    waiting = api.get("/api/v1/console/desk/waiting/", {"branch": province.a_branch.pk})
    assert waiting.status_code == 200
    assert any(o["number"].startswith(number) for o in waiting.json())
    assert api.get("/api/v1/console/desk/waiting/", {"branch": "x"}).status_code == 400
    assert api_on(province.bank_a, province.shopper).get(
        "/api/v1/console/desk/waiting/").status_code == 404
