"""The bank console's lending pages, through the Django test client on the banks' domains,
with financing made by the real services (orders paid on the local card server, profiles
computed from them): the queue with the score explained, decisions with maker-checker,
roles (an account manager gets 403; write-off and policy are for bank admins), profiles
and recomputation, the overdue list, a loan's audit trail, and isolation between banks.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from lending import services as lending
from lending.models import (
    Application,
    ApplicationStatus,
    CreditDataUse,
    CreditProfile,
    LendingPolicy,
    Loan,
    LoanStatus,
    PartyKind,
    ScheduleLine,
    ScoringRun,
)
from lending.tasks import run_scoring
from tests.lending_factories import buyer, lenient_policy, scored_buyer, scored_merchant
from tests.orders_factories import market, pay, place

D = Decimal
pytestmark = pytest.mark.django_db

HOME = "/console/lending/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def text(response) -> str:
    return response.content.decode()


def _order(province, shop, bank, sku):
    checkout = place(province.shopper, bank, [(sku, 2)])
    pay(checkout)
    return checkout.orders.get()


@pytest.fixture
def in_review(province):
    """Bank A's merchant asks to finance a paid order (2 x 45.50 + 8.00 = 99.00, 80 % =
    79.20); no tier is approved automatically, so it waits for a credit officer."""
    shop = market(province)
    bank = province.bank_a
    lenient_policy(bank, province.a_admin, auto_tiers="")
    order = _order(province, shop, bank, shop.sku_a)
    scored_merchant(bank, shop.merchant_a, province.a_manager)
    with schema_context(bank.schema_name):
        app = lending.order_financing_apply(bank=bank, order=order, actor=province.a_manager)
    assert app.status == ApplicationStatus.IN_REVIEW and app.amount == D("79.20")
    shop.order, shop.app = order, app
    return shop


def _status(bank, app) -> str:
    with schema_context(bank.schema_name):
        return Application.objects.get(pk=app.pk).status


def _has_loan(bank, app) -> bool:
    with schema_context(bank.schema_name):
        return Loan.objects.filter(application_id=app.pk).exists()


# --- the queue and the score explanation -----------------------------------------------------


def test_the_queue_explains_the_score_factor_by_factor(province, in_review, client_on):
    page = client_on(province.bank_a, province.a_credit).get(HOME, **EN)
    assert page.status_code == 200
    body = text(page)
    assert in_review.merchant_a.name in body and "¥79.20" in body
    with schema_context(province.bank_a.schema_name):
        profile = CreditProfile.objects.get(party=PartyKind.MERCHANT,
                                            merchant_id=in_review.merchant_a.pk)
    # Every factor with its points of its most, and the label the officer reads.
    for factor in profile.factors:
        assert f"<b>{factor['points']}</b> / {factor['max']}" in body
    assert "Time on the platform" in body and "Repayment history" in body
    # The application page shows the same, and the figures behind it are one click away.
    detail = text(client_on(province.bank_a, province.a_credit).get(
        f"{HOME}applications/{in_review.app.pk}/", **EN))
    assert "Score explanation" in detail and in_review.order.number in detail
    figures = text(client_on(province.bank_a, province.a_credit).get(
        f"{HOME}profiles/merchant/{in_review.merchant_a.pk}/", **EN))
    assert "sales_12m" in figures and profile.figures["sales_12m"] in figures


# --- decisions: maker-checker ----------------------------------------------------------------


def test_two_different_officers_approve_above_the_threshold(province, in_review, client_on):
    bank, app = province.bank_a, in_review.app
    lenient_policy(bank, province.a_admin, auto_tiers="", second_approval_over=D("50.00"))
    officer = client_on(province.bank_a, province.a_credit)
    url = f"{HOME}applications/{app.pk}/decide/"

    # A rejection must say why: the page says so and nothing changes.
    refused = officer.post(url, {"decision": "reject", "note": ""}, **EN)
    assert refused.status_code == 400 and "Say why the application is rejected." in text(
        refused)
    assert _status(bank, app) == ApplicationStatus.IN_REVIEW
    # Nonsense is a page message too.
    assert officer.post(url, {"decision": "maybe"}).status_code == 400
    assert _status(bank, app) == ApplicationStatus.IN_REVIEW

    first = officer.post(url, {"decision": "approve", "note": "订单真实，回款可靠"})
    assert first.status_code == 302
    assert _status(bank, app) == ApplicationStatus.AWAITING_SECOND
    assert not _has_loan(bank, app)
    page = text(officer.get(f"{HOME}applications/{app.pk}/", **EN))
    assert "You gave the first approval" in page and "t-a-credit" in page

    # The same officer cannot give the second approval.
    again = officer.post(url, {"decision": "approve", "note": ""}, **EN)
    assert again.status_code == 400
    assert "The second approval must come from another officer." in text(again)
    assert _status(bank, app) == ApplicationStatus.AWAITING_SECOND
    assert not _has_loan(bank, app)

    second = client_on(province.bank_a, province.a_admin).post(url, {"decision": "approve"})
    assert second.status_code == 302
    assert _status(bank, app) == ApplicationStatus.DISBURSED
    with schema_context(bank.schema_name):
        loan = Loan.objects.get(application_id=app.pk)
        actions = list(Application.objects.get(pk=app.pk).events.values_list(
            "action", "actor_id"))
    assert actions == [("submit", province.a_manager.pk),
                       ("approve_first", province.a_credit.pk),
                       ("approve_second", province.a_admin.pk),
                       ("disburse", province.a_admin.pk)]
    # The loan page: schedule, and the audit trail with who did what.
    body = text(officer.get(f"{HOME}loans/{loan.pk}/", **EN))
    assert loan.number in body and "¥79.20" in body
    for label, who in (("First approval", "t-a-credit"), ("Second approval", "甲管理员")):
        assert re.search(rf"<b>{label}</b>.*?{who}", body, re.S)
    assert "订单真实，回款可靠" in body
    # The queue is empty of it now.
    assert f"/applications/{app.pk}/" not in text(officer.get(HOME))


def test_a_single_officer_rejects_with_a_reason(province, in_review, client_on):
    bank, app = province.bank_a, in_review.app
    response = client_on(bank, province.a_credit).post(
        f"{HOME}applications/{app.pk}/decide/", {"decision": "reject", "note": "经营期太短"})
    assert response.status_code == 302
    with schema_context(bank.schema_name):
        app.refresh_from_db()
        note = app.events.get(action="reject").note
    assert (app.status, app.decided_by_id, note) == (ApplicationStatus.REJECTED,
                                                     province.a_credit.pk, "经营期太短")
    assert not _has_loan(bank, app)
    # Decided: no decision form any more, and deciding again is refused.
    page = client_on(bank, province.a_credit).get(f"{HOME}applications/{app.pk}/")
    assert f'action="{HOME}applications/{app.pk}/decide/"' not in text(page)
    again = client_on(bank, province.a_credit).post(
        f"{HOME}applications/{app.pk}/decide/", {"decision": "approve"})
    assert again.status_code == 400 and _status(bank, app) == ApplicationStatus.REJECTED


def test_an_account_manager_cannot_see_or_decide(province, in_review, client_on):
    manager = client_on(province.bank_a, province.a_manager)
    for url in (HOME, f"{HOME}applications/{in_review.app.pk}/", f"{HOME}portfolio/",
                f"{HOME}profiles/", f"{HOME}policy/"):
        assert manager.get(url).status_code == 403, url
    decided = manager.post(f"{HOME}applications/{in_review.app.pk}/decide/",
                           {"decision": "approve"})
    assert decided.status_code == 403
    assert _status(province.bank_a, in_review.app) == ApplicationStatus.IN_REVIEW
    # The console home offers the lending pages only to those who may use them.
    assert HOME not in text(manager.get("/console/"))
    assert HOME in text(client_on(province.bank_a, province.a_credit).get("/console/"))
    # Anonymous visitors are sent to log in.
    assert client_on(province.bank_a).get(HOME).status_code == 302


# --- isolation ---------------------------------------------------------------------------------


def test_bank_a_staff_never_see_bank_bs_applications_or_loans(province, client_on):
    shop = market(province)
    bank_b = province.bank_b
    lenient_policy(bank_b, province.b_admin, auto_tiers="")
    order = _order(province, shop, province.bank_a, shop.sku_b)  # bank B's merchant
    scored_merchant(bank_b, shop.merchant_b, province.b_admin)
    with schema_context(bank_b.schema_name):
        review = lending.order_financing_apply(bank=bank_b, order=order, actor=province.b_admin)
        lending.application_decide(bank=bank_b, application=review, officer=province.b_admin,
                                   approve=True)
        loan = Loan.objects.get(application_id=review.pk)
    name = shop.merchant_b.name
    a_staff = client_on(province.bank_a, province.a_admin)
    # Ids are per bank schema: bank A's host either has no such row (404) or shows bank A's
    # own row with that id, never bank B's.
    for url in (f"{HOME}applications/{review.pk}/", f"{HOME}loans/{loan.pk}/",
                f"{HOME}profiles/merchant/{shop.merchant_b.pk}/"):
        response = a_staff.get(url)
        assert response.status_code in (200, 404), url
        assert name not in text(response) and loan.number not in text(response), url
    assert a_staff.get(f"{HOME}profiles/merchant/{shop.merchant_b.pk}/").status_code == 404
    assert a_staff.get(f"{HOME}applications/999999999/").status_code == 404
    assert a_staff.get(f"{HOME}loans/999999999/").status_code == 404
    for url in (HOME, f"{HOME}loans/", f"{HOME}profiles/", f"{HOME}applications/"):
        assert name not in text(a_staff.get(url)), url
    # Bank B's staff are nobody on bank A's domain (and the other way round).
    assert client_on(province.bank_a, province.b_admin).get(HOME).status_code == 404
    assert client_on(province.bank_b, province.a_credit).get(
        f"{HOME}loans/{loan.pk}/").status_code == 404
    # Bank B's own admin sees it.
    assert name in text(client_on(bank_b, province.b_admin).get(f"{HOME}loans/{loan.pk}/"))


# --- overdue, write-off ---------------------------------------------------------------------


@pytest.fixture
def overdue_loan(province):
    """An individual's 3 instalments, the first unpaid 40 days after its due date (M2)."""
    shop = market(province)
    bank = province.bank_a
    lenient_policy(bank, province.a_admin)
    shopper = buyer()
    history = place(shopper, bank, [(shop.sku_a, 8)])
    pay(history)
    scored_buyer(bank, shopper)
    checkout = place(shopper, bank, [(shop.sku_a, 2)])
    with schema_context(bank.schema_name):
        loan = lending.checkout_finance(bank=bank, checkout=checkout, buyer=shopper,
                                        months=3).loan
        first = loan.lines.order_by("seq").first()
        lending.loans_age(bank=bank, as_of=first.due_date + timedelta(days=40))
        loan.refresh_from_db()
    assert (loan.status, loan.bucket) == (LoanStatus.OVERDUE, "M2")
    loan.shopper = shopper
    return loan


def test_the_overdue_list_shows_buckets_and_penalty_due(province, overdue_loan, client_on):
    bank = province.bank_a
    with schema_context(bank.schema_name):
        penalty = sum((ln.penalty_accrued for ln in ScheduleLine.objects.filter(
            loan=overdue_loan)), D(0)).quantize(D("0.01"))
    officer = client_on(bank, province.a_credit)
    body = text(officer.get(f"{HOME}overdue/?bucket=M2"))
    assert overdue_loan.number in body and overdue_loan.shopper.shown_name in body
    assert penalty > 0 and f"¥{penalty}" in body
    assert overdue_loan.number not in text(officer.get(f"{HOME}overdue/?bucket=M1"))
    assert officer.get(f"{HOME}overdue/?bucket=<script>").status_code == 200
    assert officer.get(f"{HOME}portfolio/").status_code == 200
    assert overdue_loan.number in text(officer.get(f"{HOME}loans/?status=overdue"))
    # The officer sees the loan but no write-off form.
    page = text(officer.get(f"{HOME}loans/{overdue_loan.pk}/"))
    assert overdue_loan.number in page and "write-off/" not in page


def test_only_a_bank_admin_writes_off_and_must_say_why(province, overdue_loan, client_on):
    bank = province.bank_a
    url = f"{HOME}loans/{overdue_loan.pk}/write-off/"

    def status():
        with schema_context(bank.schema_name):
            return Loan.objects.get(pk=overdue_loan.pk).status

    for user in (province.a_credit, province.a_manager):
        assert client_on(bank, user).post(url, {"note": "失联"}).status_code == 403
    assert client_on(bank, province.b_admin).post(url, {"note": "失联"}).status_code == 404
    assert status() == LoanStatus.OVERDUE
    admin = client_on(bank, province.a_admin)
    assert "write-off/" in text(admin.get(f"{HOME}loans/{overdue_loan.pk}/"))
    empty = admin.post(url, {"note": "  "})
    assert empty.status_code == 400 and status() == LoanStatus.OVERDUE
    assert admin.post(url, {"note": "借款人失联"}).status_code == 302
    assert status() == LoanStatus.WRITTEN_OFF
    page = text(admin.get(f"{HOME}loans/{overdue_loan.pk}/", **EN))
    assert re.search(r"<b>Written off</b>.*?甲管理员.*?借款人失联", page, re.S)
    # Written off once: a second attempt is refused on the page, nothing more is posted.
    assert admin.post(url, {"note": "again"}).status_code == 400


# --- profiles and scoring runs -------------------------------------------------------------


def test_profiles_filter_and_recompute_one(province, in_review, client_on):
    bank, merchant = province.bank_a, in_review.merchant_a
    officer = client_on(bank, province.a_credit)
    listed = text(officer.get(f"{HOME}profiles/?party=merchant&tier=A"))
    assert merchant.name in listed
    assert merchant.name not in text(officer.get(f"{HOME}profiles/?party=buyer"))
    assert merchant.name not in text(officer.get(f"{HOME}profiles/?tier=D"))
    assert officer.get(f"{HOME}profiles/?tier=Z&party=x").status_code == 200
    with schema_context(bank.schema_name):
        before = CreditDataUse.objects.filter(merchant_id=merchant.pk).count()
    done = officer.post(f"{HOME}profiles/recompute/",
                        {"party": "merchant", "party_id": merchant.pk})
    assert done.status_code == 302
    assert done["Location"] == f"{HOME}profiles/merchant/{merchant.pk}/"
    with schema_context(bank.schema_name):
        use = CreditDataUse.objects.filter(merchant_id=merchant.pk).order_by("-pk").first()
        assert CreditDataUse.objects.filter(merchant_id=merchant.pk).count() == before + 1
    assert (use.purpose, use.actor_id) == ("on_demand", province.a_credit.pk)
    # Another bank's merchant, or nonsense: a message, nothing computed.
    for data in ({"party": "merchant", "party_id": in_review.merchant_b.pk},
                 {"party": "merchant", "party_id": "abc"}, {"party": "bank", "party_id": 1}):
        response = officer.post(f"{HOME}profiles/recompute/", data, follow=True)
        assert response.status_code == 200 and response.redirect_chain
    with schema_context(bank.schema_name):
        assert not CreditProfile.objects.filter(merchant_id=in_review.merchant_b.pk).exists()
    assert officer.get(f"{HOME}profiles/nobody/1/").status_code == 404


def test_recompute_all_starts_a_run_whose_progress_the_page_follows(
        province, in_review, client_on, django_capture_on_commit_callbacks):
    bank = province.bank_a
    officer = client_on(bank, province.a_credit)
    with schema_context(bank.schema_name):
        ScoringRun.objects.filter(status__in=["pending", "running"]).update(status="failed")
    with django_capture_on_commit_callbacks() as queued:
        started = officer.post(f"{HOME}runs/")
    assert started.status_code == 302 and len(queued) == 1
    with schema_context(bank.schema_name):
        run = ScoringRun.objects.get(trigger="manual", status="pending")
    assert run.started_by_id == province.a_credit.pk
    assert started["Location"] == f"{HOME}runs/{run.pk}/"
    page = text(officer.get(f"{HOME}runs/{run.pk}/"))
    assert f"{HOME}runs/{run.pk}/progress/" in page and "data-progress-url=" in page
    # A second start while it is open is refused, and no second run is made.
    with django_capture_on_commit_callbacks() as none:
        officer.post(f"{HOME}runs/")
    assert not none
    with schema_context(bank.schema_name):
        assert ScoringRun.objects.filter(trigger="manual", status="pending").count() == 1
        run_scoring.apply(args=[run.pk])  # what the worker does with the queued task
    progress = officer.get(f"{HOME}runs/{run.pk}/progress/").json()
    assert progress["status"] == "completed" and progress["percent"] == 100
    assert progress["done"] == progress["total"] >= 1
    assert "data-progress-url=" not in text(officer.get(f"{HOME}runs/{run.pk}/"))
    assert officer.get(f"{HOME}runs/999999999/").status_code == 404


# --- policy ---------------------------------------------------------------------------------


def _policy_form(policy: LendingPolicy, **changes) -> dict:
    data = {f: getattr(policy, f) for f in (
        "base_score", "tier_a_min", "tier_b_min", "tier_c_min", "rate_a", "rate_b", "rate_c",
        "penalty_multiplier", "merchant_limit_months", "buyer_limit_months",
        "merchant_limit_cap", "buyer_limit_cap", "advance_ratio", "order_financing_days",
        "purchase_financing_days", "auto_tiers", "second_approval_over")}
    data["terms_text"] = ", ".join(map(str, policy.terms))
    data["weights_text"] = "\n".join(f"{k}: {v}" for k, v in (policy.weights or {}).items())
    return {**data, **changes}


def test_bank_admins_edit_the_policy_officers_only_read_it(province, client_on):
    bank = province.bank_a
    with schema_context(bank.schema_name):
        policy = lending.policy_get()
    officer = client_on(bank, province.a_credit)
    read = text(officer.get(f"{HOME}policy/"))
    assert "<fieldset disabled>" in read
    assert officer.post(f"{HOME}policy/", _policy_form(policy, rate_a="0.05")
                        ).status_code == 403
    admin = client_on(bank, province.a_admin)
    for bad in ({"tier_b_min": policy.tier_a_min + 10}, {"terms_text": "3, six"},
                {"weights_text": "nonsense: 5"}, {"weights_text": "sales: 900"},
                {"advance_ratio": "2.5"}, {"rate_a": "abc"}):
        response = admin.post(f"{HOME}policy/", _policy_form(policy, **bad))
        assert response.status_code == 400, bad
        assert 'class="errorlist"' in text(response), bad
    with schema_context(bank.schema_name):
        assert LendingPolicy.objects.get(pk=policy.pk).rate_a == policy.rate_a
    saved = admin.post(f"{HOME}policy/", _policy_form(
        policy, rate_a="0.0399", terms_text="6, 3, 12, 24", weights_text="sales: 150"))
    assert saved.status_code == 302
    with schema_context(bank.schema_name):
        fresh = LendingPolicy.objects.get(pk=policy.pk)
    assert (fresh.rate_a, fresh.instalment_months, fresh.weights) == (
        D("0.03990"), [3, 6, 12, 24], {"sales": 150})
