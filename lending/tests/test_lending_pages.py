"""Financing pages on a bank's domain, through the Django test client and the real
services, database, ledger and card server: a business buyer consents and pays later, an
individual picks 6 instalments, a merchant finances an order; bad input is a page message
that changes nothing; someone else's loan is a 404."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from catalog.models import MerchantMember
from lending import calc
from lending.models import Application, Loan, LoanRepayment, LoanStatus, ScheduleLine
from orders.models import CheckoutStatus
from tests.lending_factories import buyer, lenient_policy, scored_buyer
from tests.orders_factories import market, pay, place

D = Decimal
pytestmark = pytest.mark.django_db


def _history(province, shopper, shop, qty):
    """A paid purchase, so the buyer has a trading record."""
    pay(place(shopper, province.bank_a, [(shop.sku_a, qty)]))


def _owner(merchant):
    return MerchantMember.objects.filter(merchant=merchant).first().user


def _loans_of(bank, user):
    with schema_context(bank.schema_name):
        return list(Loan.objects.filter(user_id=user.pk))


def test_a_business_buyer_consents_then_pays_later_and_repays_by_card(province, client_on):
    shop = market(province)
    lenient_policy(province.bank_a, province.a_admin)
    shopper = buyer(business=True)
    _history(province, shopper, shop, qty=10)  # 10 x 39.00 wholesale = 390.00
    web = client_on(province.bank_a, shopper)

    # Before consent: what data is used, and no credit.
    page = web.get("/credit/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="consent-button"' in text and "/credit/consent/" in text
    assert 'href="/credit/"' in text  # the storefront's header links "my credit"
    checkout = place(shopper, province.bank_a, [(shop.sku_b, 2)])  # 136.00, bank B's shop
    assert "/credit/checkout/" not in web.get(f"/pay/{checkout.number}/").content.decode()

    # Consent works out the limit at once: 390.00 x 3 months x tier A -> 1,100.
    response = web.post("/credit/consent/", {"action": "grant"})
    assert response.status_code == 302
    text = web.get("/credit/").content.decode()
    assert "¥1100.00" in text and 'id="available"' in text

    # The card page offers pay later; the credit page shows the terms; pay later.
    pay_page = web.get(f"/pay/{checkout.number}/").content.decode()
    assert 'id="other-options"' in pay_page
    assert f"/credit/checkout/{checkout.number}/" in pay_page
    choice = web.get(f"/credit/checkout/{checkout.number}/")
    assert choice.status_code == 200
    due = timezone.localdate() + timezone.timedelta(days=30)
    assert due.isoformat() in choice.content.decode()
    # Individuals' instalments are not for business buyers: refused, nothing changed.
    refused = web.post(f"/credit/checkout/{checkout.number}/", {"choice": "3"})
    assert refused.status_code == 400 and 'class="decline"' in refused.content.decode()
    assert _loans_of(province.bank_a, shopper) == []
    response = web.post(f"/credit/checkout/{checkout.number}/", {"choice": "later"})
    assert response.status_code == 302
    [loan] = _loans_of(province.bank_a, shopper)
    assert response["Location"] == f"/credit/loans/{loan.pk}/"
    assert (loan.principal, loan.product, loan.maturity_date) == (D("136.00"), "purchase",
                                                                  due)
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID
    # Paying again goes to the checkout, never a second loan.
    again = web.post(f"/credit/checkout/{checkout.number}/", {"choice": "later"})
    assert again.status_code == 302 and len(_loans_of(province.bank_a, shopper)) == 1

    # The loan page: due today is the principal and one day's interest (136 x 4.35 % /
    # 360 = 0.0164 -> 0.02).
    loan_page = web.get(f"/credit/loans/{loan.pk}/").content.decode()
    assert loan.number in loan_page and "¥136.02" in loan_page
    assert "4242 4242 4242 4242" in loan_page  # test cards listed
    assert loan.number in web.get("/credit/loans/").content.decode()

    # A bad card is a page message; nothing is recorded, the loan is not "in progress".
    bad = web.post(f"/credit/loans/{loan.pk}/repay/", {
        "number": "4242 4242 4242 4241", "exp": "12/30", "cvc": "123",
        "idempotency_key": "k-bad"})
    assert bad.status_code == 400 and 'class="errorlist"' in bad.content.decode()
    with schema_context(province.bank_a.schema_name):
        assert not LoanRepayment.objects.filter(loan_id=loan.pk).exists()
    declined = web.post(f"/credit/loans/{loan.pk}/repay/", {
        "number": "4000 0000 0000 0341", "exp": "12/30", "cvc": "123",
        "idempotency_key": "k-declined"})
    assert declined.status_code == 400 and 'class="decline"' in declined.content.decode()
    ok = web.post(f"/credit/loans/{loan.pk}/repay/", {
        "number": "4242 4242 4242 4242", "exp": "12/30", "cvc": "123",
        "idempotency_key": "k-ok"})
    assert ok.status_code == 302
    with schema_context(province.bank_a.schema_name):
        loan.refresh_from_db()
        assert loan.status == LoanStatus.REPAID
        paid = LoanRepayment.objects.get(loan_id=loan.pk, status="succeeded")
        assert (paid.amount, paid.principal, paid.interest) == (D("136.02"), D("136.00"),
                                                                D("0.02"))


def test_an_individual_picks_6_instalments_with_the_schedule_shown_first(province,
                                                                       client_on):
    shop = market(province)
    lenient_policy(province.bank_a, province.a_admin)
    shopper = buyer()
    _history(province, shopper, shop, qty=8)  # 8 x 45.50 = 364.00 -> limit 1,000
    profile = scored_buyer(province.bank_a, shopper)
    checkout = place(shopper, province.bank_a, [(shop.sku_a, 2)])  # 91.00 + 8.00 = 99.00
    web = client_on(province.bank_a, shopper)

    assert "/credit/checkout/" in web.get(f"/pay/{checkout.number}/").content.decode()
    page = web.get(f"/credit/checkout/{checkout.number}/")
    assert page.status_code == 200
    text = page.content.decode()
    preview = calc.equal_instalments(checkout.total, profile.rate, 6, timezone.localdate())
    for row in preview:  # every instalment's date, principal and interest
        assert row.due_date.isoformat() in text
        assert f"¥{row.principal}" in text and f"¥{row.interest}" in text
    assert text.count('name="choice"') == 3  # 3, 6 and 12 months

    # Bad choices: a page message, nothing changed.
    for bad in ("5", "abc", ""):
        response = web.post(f"/credit/checkout/{checkout.number}/", {"choice": bad})
        assert response.status_code == 400
        assert 'class="decline"' in response.content.decode()
    assert _loans_of(province.bank_a, shopper) == []
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT

    response = web.post(f"/credit/checkout/{checkout.number}/", {"choice": "6"})
    assert response.status_code == 302
    [loan] = _loans_of(province.bank_a, shopper)
    with schema_context(province.bank_a.schema_name):
        lines = list(ScheduleLine.objects.filter(loan=loan).order_by("seq"))
    assert [(ln.due_date, ln.principal, ln.interest) for ln in lines] == [
        (r.due_date, r.principal, r.interest) for r in preview]
    assert sum(ln.principal for ln in lines) == D("99.00")
    loan_page = web.get(response["Location"]).content.decode()
    assert all(r.due_date.isoformat() in loan_page for r in preview)
    # Due now is the next instalment.
    assert f"¥{preview[0].amount}" in loan_page


def test_a_merchant_consents_and_finances_an_order_from_pages(province, client_on):
    shop = market(province)
    lenient_policy(province.bank_b, province.b_admin)
    checkout = place(province.shopper, province.bank_a, [(shop.sku_b, 2)])  # 136.00
    pay(checkout)
    order = checkout.orders.get()
    owner = _owner(shop.merchant_b)
    web = client_on(province.bank_b, owner)
    home = f"/merchant/{shop.merchant_b.pk}/financing/"

    shop_page = web.get(f"/merchant/{shop.merchant_b.pk}/").content.decode()
    assert home in shop_page  # the merchant console links financing
    text = web.get(home).content.decode()
    assert 'id="consent-button"' in text and order.number in text
    assert f"{home}orders/{order.number}/" not in text  # no credit before consent

    assert web.post(f"{home}consent/", {"action": "grant"}).status_code == 302
    text = web.get(home).content.decode()
    # 136.00 of sales x 2 months, tier A -> 200; 80 % of the order is 108.80.
    assert "¥200.00" in text and "¥108.80" in text
    assert f"{home}orders/{order.number}/" in text

    order_page = f"{home}orders/{order.number}/"
    assert web.get(order_page).status_code == 200
    for bad in ("999", "abc", "-5"):
        response = web.post(order_page, {"amount": bad})
        assert response.status_code == 400
        assert 'class="errorlist"' in response.content.decode()
    with schema_context(province.bank_b.schema_name):
        assert not Application.objects.filter(order_id=order.pk).exists()

    response = web.post(order_page, {"amount": ""})
    assert response.status_code == 302
    with schema_context(province.bank_b.schema_name):
        loan = Loan.objects.get(order_id=order.pk)
    assert loan.principal == D("108.80") and loan.merchant_id == shop.merchant_b.pk
    assert response["Location"] == f"{home}loans/{loan.pk}/"
    loan_page = web.get(response["Location"]).content.decode()
    assert loan.number in loan_page and order.number in loan_page
    text = web.get(home).content.decode()
    assert loan.number in text
    # Never twice: the order page shows the financing, a second POST is refused.
    again = web.post(order_page, {"amount": ""})
    assert again.status_code == 400
    with schema_context(province.bank_b.schema_name):
        assert Loan.objects.filter(order_id=order.pk).count() == 1

    # The same shop's pages on another bank's domain do not exist; nor for a stranger.
    assert client_on(province.bank_a, owner).get(home).status_code == 404
    assert client_on(province.bank_b, province.shopper).get(home).status_code == 404
    stranger_loan = client_on(province.bank_b, province.shopper).get(
        f"{home}loans/{loan.pk}/")
    assert stranger_loan.status_code == 404


def test_another_users_loan_is_404_and_credit_is_only_on_bank_hosts(province, client_on):
    shop = market(province)
    lenient_policy(province.bank_a, province.a_admin)
    shopper = buyer(business=True)
    _history(province, shopper, shop, qty=10)
    scored_buyer(province.bank_a, shopper)
    checkout = place(shopper, province.bank_a, [(shop.sku_a, 1)])
    web = client_on(province.bank_a, shopper)
    assert web.post(f"/credit/checkout/{checkout.number}/",
                    {"choice": "later"}).status_code == 302
    [loan] = _loans_of(province.bank_a, shopper)

    other = client_on(province.bank_a, buyer())
    assert other.get(f"/credit/loans/{loan.pk}/").status_code == 404
    assert other.post(f"/credit/loans/{loan.pk}/repay/", {
        "number": "4242 4242 4242 4242", "exp": "12/30", "cvc": "123",
        "idempotency_key": "steal"}).status_code == 404
    assert other.get(f"/credit/checkout/{checkout.number}/").status_code == 404
    assert loan.number not in other.get("/credit/loans/").content.decode()
    # Bank B's domain reads bank B's schema: the loan is not there.
    assert client_on(province.bank_b, shopper).get(
        f"/credit/loans/{loan.pk}/").status_code == 404
    # Anonymous visitors are sent to log in.
    assert client_on(province.bank_a).get("/credit/").status_code == 302
