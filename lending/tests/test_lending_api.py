"""The financing API through real requests on bank hosts: a buyer's consent, credit, pay
later and instalments at checkout and card repayments; a shop's order financing; credit
officers' queue, maker-checker decisions, profiles, scoring runs, portfolio, overdue list
and write-off; bad input as 400 changing nothing, wrong roles 403, other people's and
other banks' ids 404; the OpenAPI schema of each host."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import schema_context

from lending import services as lending
from lending.models import Application, Loan, ScheduleLine, ScoringRun
from orders.models import Checkout, CheckoutStatus
from tests.lending_factories import buyer, lenient_policy
from tests.orders_factories import market, pay, place

D = Decimal
pytestmark = pytest.mark.django_db

GOOD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
DECLINED = {**GOOD, "number": "4000000000000341"}


def key() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex}


def money(value) -> Decimal:
    return D(str(value))


def _history(province, shopper, shop, qty):
    """A paid purchase on bank A's storefront: the buyer's trading record."""
    pay(place(shopper, province.bank_a, [(shop.sku_a, qty)]))


@pytest.fixture
def shop(province):
    shop = market(province)
    shop.owner_a = shop.merchant_a.members.get().user
    shop.owner_b = shop.merchant_b.members.get().user
    return shop


# --- the schema ------------------------------------------------------------------------------

SHOPPER = {"/api/v1/credit/", "/api/v1/credit/consent/",
           "/api/v1/credit/checkouts/{number}/options/",
           "/api/v1/credit/checkouts/{number}/finance/", "/api/v1/credit/loans/",
           "/api/v1/credit/loans/{loan_id}/", "/api/v1/credit/loans/{loan_id}/repayments/"}
_F = "/api/v1/merchant/{merchant_id}/financing/"
MERCHANT = {_F, f"{_F}consent/", f"{_F}orders/", f"{_F}orders/{{number}}/",
            f"{_F}orders/{{number}}/finance/", f"{_F}applications/", f"{_F}loans/",
            f"{_F}loans/{{loan_id}}/"}
_C = "/api/v1/console/lending/"
CONSOLE = {f"{_C}{p}" for p in (
    "applications/", "applications/{application_id}/", "applications/{application_id}/decide/",
    "profiles/", "profiles/recompute/", "profiles/{profile_id}/", "scoring-runs/",
    "scoring-runs/{run_id}/", "portfolio/", "overdue/", "loans/", "loans/{loan_id}/",
    "loans/{loan_id}/write-off/", "policy/")}


def test_the_financing_api_is_in_the_bank_hosts_schema_only(province, client_on):
    bank = client_on(province.bank_a).get("/api/v1/schema/?format=json").json()
    assert set(bank["paths"]) >= SHOPPER | MERCHANT | CONSOLE
    portal = set(client_on(None).get("/api/v1/schema/?format=json").json()["paths"])
    assert not (SHOPPER | MERCHANT | CONSOLE) & portal
    for path in ("/api/v1/credit/checkouts/{number}/finance/",
                 "/api/v1/credit/loans/{loan_id}/repayments/",
                 f"{_F}orders/{{number}}/finance/"):
        post = bank["paths"][path]["post"]
        header = [p for p in post["parameters"] if p["in"] == "header"]
        assert [(p["name"], p["required"]) for p in header] == [("Idempotency-Key", True)]
        assert {"200", "201"} <= set(post["responses"])


# --- a business buyer pays later -------------------------------------------------------------


def test_a_business_buyer_consents_pays_later_and_repays_by_card(province, shop, api_on):
    lenient_policy(province.bank_a, province.a_admin)
    me = buyer(business=True)
    _history(province, me, shop, qty=10)  # 10 x 39.00 wholesale = 390.00
    api = api_on(province.bank_a, me)

    credit = api.get("/api/v1/credit/").json()
    assert (credit["consented"], money(credit["limit"]), credit["factors"]) == (
        False, D("0.00"), [])
    assert api.put("/api/v1/credit/consent/", {"agree": "perhaps"},
                   format="json").status_code == 400
    credit = api.put("/api/v1/credit/consent/", {"agree": True}, format="json").json()
    # 390.00 in the first month x 3 months x tier A -> 1,170 -> whole hundreds: 1,100.
    assert (credit["consented"], credit["tier"], money(credit["limit"])) == (
        True, "A", D("1100.00"))
    assert {f["factor"] for f in credit["factors"]} >= {"purchases", "repayment"}
    assert all(0 <= f["points"] <= f["max"] for f in credit["factors"])

    checkout = place(me, province.bank_a, [(shop.sku_b, 2)])  # bank B's honey, 136.00
    base = f"/api/v1/credit/checkouts/{checkout.number}/"
    options = api.get(f"{base}options/").json()
    assert options["pay_later"]["days"] == 30 and options["instalments"] == []
    assert money(options["available"]) == D("1100.00")

    # Bad input: no key, instalments for a business buyer; nothing changes.
    assert api.post(f"{base}finance/", {}, format="json").status_code == 400
    refused = api.post(f"{base}finance/", {"months": 3}, format="json", **key())
    assert refused.status_code == 400 and refused.json()["message"]
    assert api.post(f"{base}finance/", {"months": "x"}, format="json",
                    **key()).status_code == 400
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.PENDING_PAYMENT

    once = key()
    made = api.post(f"{base}finance/", {}, format="json", **once)
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["checkout_status"] == "paid"
    assert (body["application"]["status"], body["application"]["product"]) == (
        "disbursed", "purchase")
    loan = body["loan"]
    assert (money(loan["principal"]), loan["maturity_date"]) == (
        D("136.00"), (timezone.localdate() + timedelta(days=30)).isoformat())
    assert len(loan["schedule"]) == 1 and loan["checkout"] == checkout.number
    # The same request again: the same financing, not a second loan.
    again = api.post(f"{base}finance/", {}, format="json", **once)
    assert again.status_code == 200
    assert again.json()["application"]["id"] == body["application"]["id"]
    other = place(me, province.bank_a, [(shop.sku_b, 1)])
    conflict = api.post(f"/api/v1/credit/checkouts/{other.number}/finance/", {},
                        format="json", **once)
    assert conflict.status_code == 422 and "idempotency_key" in conflict.json()["errors"]
    with schema_context(province.bank_a.schema_name):
        assert Loan.objects.filter(user_id=me.pk).count() == 1

    listed = api.get("/api/v1/credit/loans/").json()
    assert [r["number"] for r in listed["results"]] == [loan["number"]]
    assert api.get("/api/v1/credit/loans/?status=nonsense").status_code == 400
    detail = api.get(f"/api/v1/credit/loans/{loan['id']}/").json()
    # Repaid today: one day's interest, 136 x 0.0435 / 360 = 0.0164 -> 0.02.
    assert money(detail["due_now"]["total"]) == D("136.02")

    pay_url = f"/api/v1/credit/loans/{loan['id']}/repayments/"
    assert api.post(pay_url, {"card": GOOD}, format="json").status_code == 400  # no key
    assert api.post(pay_url, {"card": {"number": "4242"}}, format="json",
                    **key()).status_code == 400
    bad_number = api.post(pay_url, {"card": {**GOOD, "number": "4242 4242 4242 4241"}},
                          format="json", **key())
    assert bad_number.status_code == 400 and "number" in bad_number.json()["errors"]
    declined = api.post(pay_url, {"card": DECLINED}, format="json", **key())
    assert declined.status_code == 201 and declined.json()["status"] == "failed"
    paid_key = key()
    paid = api.post(pay_url, {"card": GOOD}, format="json", **paid_key)
    assert paid.status_code == 201, paid.json()
    assert (paid.json()["status"], money(paid.json()["amount"]),
            money(paid.json()["interest"])) == ("succeeded", D("136.02"), D("0.02"))
    replay = api.post(pay_url, {"card": GOOD}, format="json", **paid_key)
    assert replay.status_code == 200 and replay.json()["id"] == paid.json()["id"]
    detail = api.get(f"/api/v1/credit/loans/{loan['id']}/").json()
    assert detail["status"] == "repaid" and detail["due_now"] is None
    # The declined attempt and the payment; the card refused before the gateway left none.
    assert sorted(r["status"] for r in detail["repayments"]) == ["failed", "succeeded"]

    # Someone else, and the same buyer on another bank's domain: 404.
    stranger = api_on(province.bank_a, buyer())
    assert stranger.get(f"/api/v1/credit/loans/{loan['id']}/").status_code == 404
    assert stranger.post(pay_url, {"card": GOOD}, format="json",
                         **key()).status_code == 404
    assert stranger.get(f"{base}options/").status_code == 404
    assert stranger.post(f"{base}finance/", {}, format="json", **key()).status_code == 404
    assert api_on(province.bank_b, me).get(
        f"/api/v1/credit/loans/{loan['id']}/").status_code == 404


def test_an_individual_picks_six_instalments_with_the_schedule_shown_first(province, shop,
                                                                          api_on):
    lenient_policy(province.bank_a, province.a_admin)
    me = buyer()
    _history(province, me, shop, qty=8)  # 8 x 45.50 = 364.00 -> limit 1,000
    api = api_on(province.bank_a, me)
    checkout = place(me, province.bank_a, [(shop.sku_a, 2)])  # 91.00 + 8.00 = 99.00
    base = f"/api/v1/credit/checkouts/{checkout.number}/"

    before = api.post(f"{base}finance/", {"months": 6}, format="json", **key())
    assert before.status_code == 400  # no consent yet
    api.put("/api/v1/credit/consent/", {"agree": True}, format="json")
    options = api.get(f"{base}options/").json()
    assert options["pay_later"] is None
    assert [o["months"] for o in options["instalments"]] == [3, 6, 12]
    six = next(o for o in options["instalments"] if o["months"] == 6)
    assert len(six["schedule"]) == 6
    assert sum(money(r["principal"]) for r in six["schedule"]) == D("99.00")

    assert api.post(f"{base}finance/", {"months": 5}, format="json",
                    **key()).status_code == 400
    assert api.post(f"{base}finance/", {}, format="json", **key()).status_code == 400
    made = api.post(f"{base}finance/", {"months": 6}, format="json", **key())
    assert made.status_code == 201, made.json()
    loan = made.json()["loan"]
    assert loan["product"] == "instalments" and loan["interest_mode"] == "scheduled"
    assert [(r["due_date"], r["principal"], r["interest"]) for r in loan["schedule"]] == [
        (r["due_date"], r["principal"], r["interest"]) for r in six["schedule"]]
    # Due now: the first instalment (nothing overdue yet).
    assert money(loan["due_now"]["total"]) == money(six["schedule"][0]["amount"])
    assert money(loan["due_all"]["principal"]) == D("99.00")

    # Withdrawing consent removes the limit; the loan stays.
    credit = api.put("/api/v1/credit/consent/", {"agree": False}, format="json").json()
    assert (credit["consented"], money(credit["limit"])) == (False, D("0.00"))
    assert money(credit["outstanding"]) == D("99.00")
    assert api.get(f"/api/v1/credit/loans/{loan['id']}/").status_code == 200


# --- a merchant finances an order ------------------------------------------------------------


def _paid_order_of_b(province, shop):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_b, 2)])  # 136.00
    pay(checkout)
    return checkout.orders.get()


def test_a_merchant_finances_an_order(province, shop, api_on):
    lenient_policy(province.bank_b, province.b_admin)
    order = _paid_order_of_b(province, shop)
    api = api_on(province.bank_b, shop.owner_b)
    base = f"/api/v1/merchant/{shop.merchant_b.pk}/financing/"

    assert api.get(base).json()["credit"]["consented"] is False
    no_consent = api.post(f"{base}orders/{order.number}/finance/", {}, format="json", **key())
    assert no_consent.status_code == 400
    overview = api.put(f"{base}consent/", {"agree": True}, format="json").json()
    assert (overview["credit"]["tier"], money(overview["credit"]["limit"])) == (
        "A", D("200.00"))
    assert money(overview["advance_ratio"]) == D("0.80")

    rows = api.get(f"{base}orders/").json()["results"]
    row = next(r for r in rows if r["order"] == order.number)
    assert (money(row["max_advance"]), row["application"]) == (D("108.80"), None)
    quote = api.get(f"{base}orders/{order.number}/").json()
    assert money(quote["order_value"]) == D("136.00")

    finance = f"{base}orders/{order.number}/finance/"
    too_much = api.post(finance, {"amount": "500.00"}, format="json", **key())
    assert too_much.status_code == 400 and "amount" in too_much.json()["errors"]
    assert api.post(finance, {"amount": "lots"}, format="json", **key()).status_code == 400
    with schema_context(province.bank_b.schema_name):
        assert not Application.objects.filter(order_id=order.pk).exists()
    once = key()
    made = api.post(finance, {}, format="json", **once)
    assert made.status_code == 201, made.json()
    app = made.json()
    assert (app["status"], money(app["amount"]), app["order"]) == (
        "disbursed", D("108.80"), order.number)
    again = api.post(finance, {}, format="json", **once)
    assert again.status_code == 200 and again.json()["id"] == app["id"]
    # Asked again with a new key: an order is financed once; the answer is its financing.
    twice = api.post(finance, {}, format="json", **key())
    assert twice.status_code == 200 and twice.json()["id"] == app["id"]
    with schema_context(province.bank_b.schema_name):
        assert Loan.objects.filter(order_id=order.pk).count() == 1

    assert [a["id"] for a in api.get(f"{base}applications/").json()["results"]] == [app["id"]]
    loans = api.get(f"{base}loans/").json()["results"]
    assert [lo["number"] for lo in loans] == [app["loan_number"]]
    loan = api.get(f"{base}loans/{app['loan']}/").json()
    assert loan["schedule"][0]["principal"] == "108.80" and loan["order"] == order.number
    after = api.get(base).json()["credit"]
    assert (money(after["outstanding"]), money(after["available"])) == (
        D("108.80"), D("91.20"))

    # Not a member, the wrong bank's domain, another shop's order: 404.
    assert api_on(province.bank_b, province.shopper).get(base).status_code == 404
    assert api_on(province.bank_a, shop.owner_b).get(base).status_code == 404
    other = _paid_order_of_a(province, shop)
    assert api.get(f"{base}orders/{other.number}/").status_code == 404
    assert api.post(f"{base}orders/{other.number}/finance/", {}, format="json",
                    **key()).status_code == 404
    assert api_on(province.bank_a, shop.owner_a).get(
        f"/api/v1/merchant/{shop.merchant_a.pk}/financing/loans/{app['loan']}/"
    ).status_code == 404


def _paid_order_of_a(province, shop):
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 1)])
    pay(checkout)
    return checkout.orders.get()


# --- credit officers -------------------------------------------------------------------------


@pytest.fixture
def in_review(province, shop):
    """Bank A's merchant asks to finance an order; bank A reviews every application and
    wants two officers above 30.00."""
    bank = province.bank_a
    lenient_policy(bank, province.a_admin, auto_tiers="", second_approval_over=D("30.00"))
    _paid_order_of_a(province, shop)  # trading record
    order = _paid_order_of_a(province, shop)
    with schema_context(bank.schema_name):
        lending.merchant_consent_grant(bank=bank, merchant=shop.merchant_a,
                                       actor=shop.owner_a)
        lending.profile_compute(bank=bank, party="merchant", party_id=shop.merchant_a.pk)
        return lending.order_financing_apply(bank=bank, order=order, actor=shop.owner_a)


def test_officers_decide_with_maker_checker_and_others_may_not(province, in_review, api_on):
    officer = api_on(province.bank_a, province.a_credit)
    queue = officer.get("/api/v1/console/lending/applications/").json()
    assert in_review.pk in [a["id"] for a in queue["results"]]
    url = f"/api/v1/console/lending/applications/{in_review.pk}/"
    detail = officer.get(url).json()
    assert detail["status"] == "in_review" and detail["needs_second_approval"] is True
    factors = detail["profile"]["factors"]
    assert factors and all({"label", "points", "max", "value"} <= set(f) for f in factors)
    assert detail["profile"]["figures"]["orders_12m"] >= 2
    assert [e["action"] for e in detail["events"]] == ["submit"]

    manager = api_on(province.bank_a, province.a_manager)
    assert manager.get(url).status_code == 403
    assert manager.post(f"{url}decide/", {"approve": True}, format="json").status_code == 403
    assert api_on(province.bank_a, province.shopper).get(url).status_code == 404
    assert officer.post(f"{url}decide/", {"approve": "yes please"},
                        format="json").status_code == 400
    no_reason = officer.post(f"{url}decide/", {"approve": False}, format="json")
    assert no_reason.status_code == 400 and "note" in no_reason.json()["errors"]

    first = officer.post(f"{url}decide/", {"approve": True, "note": "看过流水"}, format="json")
    assert first.status_code == 200 and first.json()["status"] == "awaiting_second"
    assert first.json()["first_approver"] == province.a_credit.shown_name
    same = officer.post(f"{url}decide/", {"approve": True}, format="json")
    assert same.status_code == 400 and same.json()["message"]
    second = api_on(province.bank_a, province.a_admin).post(
        f"{url}decide/", {"approve": True}, format="json")
    assert second.status_code == 200, second.json()
    done = second.json()
    assert done["status"] == "disbursed" and done["loan"]
    assert [(e["action"], e["actor"]) for e in done["events"]][:4] == [
        ("submit", shop_owner_name(province, in_review)),
        ("approve_first", province.a_credit.shown_name),
        ("approve_second", province.a_admin.shown_name),
        ("disburse", province.a_admin.shown_name)]
    again = officer.post(f"{url}decide/", {"approve": False, "note": "晚了"}, format="json")
    assert again.status_code == 400

    loan = officer.get(f"/api/v1/console/lending/loans/{done['loan']}/").json()
    assert loan["status"] == "active" and [e["action"] for e in loan["events"]] == ["disburse"]


def shop_owner_name(province, app) -> str:
    from accounts.models import User

    return User.objects.get(pk=app.user_id).shown_name


def test_bank_a_staff_never_see_bank_b_lending(province, shop, api_on):
    lenient_policy(province.bank_b, province.b_admin, auto_tiers="")
    order = _paid_order_of_b(province, shop)
    bank = province.bank_b
    with schema_context(bank.schema_name):
        lending.merchant_consent_grant(bank=bank, merchant=shop.merchant_b,
                                       actor=shop.owner_b)
        lending.profile_compute(bank=bank, party="merchant", party_id=shop.merchant_b.pk)
        app = lending.order_financing_apply(bank=bank, order=order, actor=shop.owner_b)
        app = lending.application_decide(bank=bank, application=app,
                                         officer=province.b_admin, approve=True)
        loan = Loan.objects.get(application=app)
    officer = api_on(province.bank_a, province.a_credit)
    for url, field in ((f"/api/v1/console/lending/applications/{app.pk}/", "party_id"),
                       (f"/api/v1/console/lending/loans/{loan.pk}/", "party_id")):
        response = officer.get(url)
        # Ids are per bank schema: 404, or bank A's own row with that id, never bank B's.
        assert response.status_code == 404 or (
            response.json()[field] != shop.merchant_b.pk), url
    assert officer.post(f"/api/v1/console/lending/applications/{app.pk}/decide/",
                        {"approve": False, "note": "x"},
                        format="json").status_code in (400, 404)
    recompute = officer.post("/api/v1/console/lending/profiles/recompute/",
                             {"party": "merchant", "party_id": shop.merchant_b.pk},
                             format="json")
    assert recompute.status_code == 404
    listed = officer.get("/api/v1/console/lending/profiles/?party=merchant&per_page=100")
    assert shop.merchant_b.pk not in [p["party_id"] for p in listed.json()["results"]]
    loans = officer.get("/api/v1/console/lending/loans/?per_page=100").json()["results"]
    assert loan.number not in [lo["number"] for lo in loans]
    # Bank B's own staff see it; bank B's admin is nobody at bank A.
    assert api_on(bank, province.b_admin).get(
        f"/api/v1/console/lending/loans/{loan.pk}/").json()["number"] == loan.number
    assert api_on(province.bank_a, province.b_admin).get(
        "/api/v1/console/lending/portfolio/").status_code == 404


def test_profiles_recompute_and_a_scoring_run_with_progress(province, shop, api_on,
                                                            django_capture_on_commit_callbacks):
    lenient_policy(province.bank_a, province.a_admin)
    _paid_order_of_a(province, shop)
    with schema_context(province.bank_a.schema_name):
        lending.merchant_consent_grant(bank=province.bank_a, merchant=shop.merchant_a,
                                       actor=shop.owner_a)
    officer = api_on(province.bank_a, province.a_credit)
    made = officer.post("/api/v1/console/lending/profiles/recompute/",
                        {"party": "merchant", "party_id": shop.merchant_a.pk}, format="json")
    assert made.status_code == 200, made.json()
    profile = made.json()
    assert profile["party_name"] == shop.merchant_a.name and profile["tier"] == "A"
    assert officer.post("/api/v1/console/lending/profiles/recompute/",
                        {"party": "bank", "party_id": 1}, format="json").status_code == 400
    listed = officer.get("/api/v1/console/lending/profiles/?tier=A&party=merchant").json()
    assert profile["id"] in [p["id"] for p in listed["results"]]
    assert officer.get("/api/v1/console/lending/profiles/?tier=Z").status_code == 400
    detail = officer.get(f"/api/v1/console/lending/profiles/{profile['id']}/").json()
    assert sum(f["points"] for f in detail["factors"]) + 300 == detail["score"]
    assert officer.get("/api/v1/console/lending/profiles/999999999/").status_code == 404

    assert api_on(province.bank_a, province.a_manager).post(
        "/api/v1/console/lending/scoring-runs/").status_code == 403
    with django_capture_on_commit_callbacks() as queued:
        started = officer.post("/api/v1/console/lending/scoring-runs/")
    assert started.status_code == 201 and len(queued) == 1  # the task, after commit
    run = started.json()
    assert run["status"] == "pending" and run["percent"] == 0
    busy = officer.post("/api/v1/console/lending/scoring-runs/")
    assert busy.status_code == 400
    # What the worker does with the queued task (the end-to-end test runs the real one).
    with schema_context(province.bank_a.schema_name):
        lending.scoring_run_execute(bank=province.bank_a, run_id=run["id"])
    done = officer.get(f"/api/v1/console/lending/scoring-runs/{run['id']}/").json()
    assert done["status"] == "completed" and done["percent"] == 100
    assert done["done"] == done["total"] >= 1
    assert run["id"] in [r["id"] for r in
                         officer.get("/api/v1/console/lending/scoring-runs/").json()]
    with schema_context(province.bank_b.schema_name):
        assert not ScoringRun.objects.filter(pk=run["id"], trigger="manual",
                                             started_by_id=province.a_credit.pk).exists()


def test_portfolio_overdue_and_write_off_by_admins_only(province, shop, api_on):
    bank = province.bank_a
    lenient_policy(bank, province.a_admin)
    me = buyer()
    _history(province, me, shop, qty=8)
    api_on(bank, me).put("/api/v1/credit/consent/", {"agree": True}, format="json")
    checkout = place(me, bank, [(shop.sku_a, 2)])
    made = api_on(bank, me).post(f"/api/v1/credit/checkouts/{checkout.number}/finance/",
                                 {"months": 3}, format="json", **key())
    loan_id = made.json()["loan"]["id"]
    with schema_context(bank.schema_name):
        first = ScheduleLine.objects.get(loan_id=loan_id, seq=1)
        lending.loans_age(bank=bank, as_of=first.due_date + timedelta(days=10))

    officer = api_on(bank, province.a_credit)
    portfolio = officer.get("/api/v1/console/lending/portfolio/").json()
    assert portfolio["by_bucket"].get("M1", 0) >= 1
    assert money(portfolio["outstanding"]) >= D("99.00")
    overdue = officer.get("/api/v1/console/lending/overdue/?per_page=100").json()["results"]
    row = next(r for r in overdue if r["id"] == loan_id)
    assert (row["bucket"], row["days_overdue"], row["party_name"]) == ("M1", 10, me.shown_name)
    assert money(row["due"]["penalty"]) >= 0 and money(row["due"]["total"]) > 0
    by_status = officer.get("/api/v1/console/lending/loans/?status=overdue&per_page=100")
    assert loan_id in [r["id"] for r in by_status.json()["results"]]
    assert officer.get("/api/v1/console/lending/loans/?product=cars").status_code == 400

    url = f"/api/v1/console/lending/loans/{loan_id}/write-off/"
    assert officer.post(url, {"note": "失联"}, format="json").status_code == 403
    assert api_on(bank, province.a_manager).post(url, {"note": "失联"},
                                                 format="json").status_code == 403
    admin = api_on(bank, province.a_admin)
    assert admin.post(url, {}, format="json").status_code == 400
    written = admin.post(url, {"note": "借款人失联"}, format="json")
    assert written.status_code == 200, written.json()
    assert written.json()["status"] == "written_off"
    assert written.json()["events"][-1]["actor"] == province.a_admin.shown_name
    assert admin.post(url, {"note": "again"}, format="json").status_code == 400
    assert api_on(province.bank_b, province.b_admin).post(
        url, {"note": "x"}, format="json").status_code in (400, 404)
    with schema_context(bank.schema_name):
        assert Loan.objects.get(pk=loan_id).status == "written_off"


def test_policy_is_read_by_officers_and_changed_by_admins(province, api_on):
    url = "/api/v1/console/lending/policy/"
    officer = api_on(province.bank_a, province.a_credit)
    policy = officer.get(url).json()
    assert policy["instalment_months"] and "second_approval_over" in policy
    assert officer.patch(url, {"rate_a": "0.05"}, format="json").status_code == 403
    admin = api_on(province.bank_a, province.a_admin)
    bad = admin.patch(url, {"tier_a_min": 100}, format="json")  # below tier B
    assert bad.status_code == 400 and bad.json()["message"]
    assert admin.patch(url, {"instalment_months": [0]}, format="json").status_code == 400
    assert admin.patch(url, {"advance_ratio": "5"}, format="json").status_code == 400
    assert officer.get(url).json() == policy  # nothing changed
    changed = admin.patch(url, {"instalment_months": [3, 6], "rate_a": "0.0500"},
                          format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["instalment_months"] == [3, 6]
    assert api_on(province.bank_b, province.a_admin).get(url).status_code == 404


def test_anonymous_callers_are_refused(province, api_on):
    for url in ("/api/v1/credit/", "/api/v1/console/lending/portfolio/",
                "/api/v1/merchant/1/financing/"):
        assert api_on(province.bank_a).get(url).status_code in (401, 403)


def test_checkout_of_another_bank_storefront_is_still_the_buyers_own(province, shop, api_on):
    """A checkout is the buyer's on every domain: bank B's domain offers bank B's credit
    for it (none here: no consent at bank B), and never someone else's checkout."""
    me = buyer()
    checkout = place(me, province.bank_a, [(shop.sku_a, 1)])
    options = api_on(province.bank_b, me).get(
        f"/api/v1/credit/checkouts/{checkout.number}/options/").json()
    assert options["consented"] is False and options["instalments"] == []
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING_PAYMENT


@pytest.mark.parametrize(("changes", "field"), [
    ({"weights": {}}, "weights"),
    ({"weights": {"": 10}}, "weights"),
    ({"weights": dict.fromkeys((
        "tenure", "sales", "growth", "orders", "on_time", "fulfilment", "refunds",
        "traceability", "inspection", "repayment", "purchases", "business"), 0)}, "weights"),
    ({"order_financing_days": 0}, "order_financing_days"),
    ({"purchase_financing_days": 0}, "purchase_financing_days"),
    ({"instalment_months": [1, 3]}, "instalment_months"),
    ({"instalment_months": [3, 3]}, "instalment_months"),
    ({"rate_a": D("0.30")}, "rate_a"),
    ({"rate_a": D("0.09")}, "rate_a"),  # above tier B's rate
    ({"base_score": 5000}, "base_score"),
    ({"tier_a_min": 1000, "base_score": 0}, "tier_a_min"),  # tier A out of reach
    ({"buyer_limit_cap": D("9999999999.00")}, "buyer_limit_cap"),
    ({"auto_tiers": "AA"}, "auto_tiers"),
])
def test_the_policy_service_refuses_nonsense(province, changes, field):
    """The storefront offered "repay within 0 days": every parameter is bounded and the
    parameters must agree, in the service that both the page and the API call."""

    from lending.models import LendingPolicy

    bank = province.bank_a
    with schema_context(bank.schema_name):
        before = LendingPolicy.objects.get()
        with pytest.raises(ValidationError) as refused:
            lending.policy_update(bank=bank, actor=province.a_admin, **changes)
        assert field in refused.value.message_dict, refused.value.message_dict
        after = LendingPolicy.objects.get()
        assert (after.order_financing_days, after.instalment_months, after.weights) == (
            before.order_financing_days, before.instalment_months, before.weights)


def test_the_policy_api_refuses_nonsense_with_field_messages(province, api_on):
    admin = api_on(province.bank_a, province.a_admin)
    url = "/api/v1/console/lending/policy/"
    for bad in ({"weights": {}}, {"weights": {"": 10}}, {"order_financing_days": 0},
                {"instalment_months": [1]}, {"rate_c": "0.0100"}):
        response = admin.patch(url, bad, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["message"] and response.json()["errors"], bad
    assert admin.patch(url, {"weights": {"sales": 150}, "instalment_months": [12, 3]},
                       format="json").json()["instalment_months"] == [3, 12]
