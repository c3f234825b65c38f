"""End to end with the real worker: a merchant of bank B finances an order from its pages,
the buyer confirms receipt on the storefront, the settlement run (queued to the Celery
worker, as the console does) repays bank B first and pays the merchant the rest, to the
fen; a scoring run started on the console is executed by the worker with progress.

The data is committed (the worker is another process). Bank B's lending policy is made
lenient for the module and restored afterwards."""

from __future__ import annotations

import time
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from core.errors import ApplicationError
from core.money import quantize_money
from lending import calc
from lending import services as lending
from lending.models import CreditProfile, Loan, LoanStatus, PartyKind, ScoringRun
from orders.models import OrderStatus
from payments import settlement
from payments.models import (
    AccountKind,
    PayoutLine,
    Posting,
    RunStatus,
    SettlementItem,
    SettlementRun,
)
from payments.tasks import run_settlement
from payments.tests.test_settlement import _account
from tests.lending_factories import buyer
from tests.orders_factories import market, pay, place

D = Decimal
pytestmark = [pytest.mark.django_db, pytest.mark.worker]
WAIT = 120


def _web(bank, user) -> Client:
    client = Client(HTTP_HOST=f"{bank.code}.localhost")
    client.force_login(user)
    return client


def _wait(what, check):
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen in {WAIT} s"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def world(province, celery_worker_process, django_db_blocker):
    """Committed (the worker reads it): the flow runs here, outside any test transaction;
    the tests look at what it left."""
    bank = province.bank_b
    with django_db_blocker.unblock():
        with schema_context(bank.schema_name):
            policy = lending.policy_get()
            # only what this test changes is put back (the service checks a whole change)
            saved = {f: getattr(policy, f) for f in ("tier_a_min", "tier_b_min", "tier_c_min")}
            lending.policy_update(bank=bank, actor=province.b_admin, tier_a_min=400,
                                  tier_b_min=350, tier_c_min=300)
        try:
            yield _flow(province, bank)
        finally:
            with schema_context(bank.schema_name):
                lending.policy_update(bank=bank, actor=province.b_admin, **saved)


def _flow(province, bank) -> SimpleNamespace:
    shop = market(province)
    merchant = shop.merchant_b
    _account(bank, merchant, "6231000000000006655")
    shopper = buyer()
    # 2 x 68.00 from bank B's merchant, bought on bank A's storefront (delivery free).
    checkout = place(shopper, province.bank_a, [(shop.sku_b, 2)])
    pay(checkout)
    order = checkout.orders.get()
    owner = merchant.members.order_by("pk").first().user
    w = SimpleNamespace(bank=bank, merchant=merchant, order=order)

    # The merchant consents and finances the order from its financing pages.
    home = f"/merchant/{merchant.pk}/financing/"
    shop_web = _web(bank, owner)
    w.consent = shop_web.post(f"{home}consent/", {"action": "grant"}).status_code
    with schema_context(bank.schema_name):  # scored now (consent given just now)
        w.profile = lending.profile_compute(bank=bank, party=PartyKind.MERCHANT,
                                            party_id=merchant.pk)
    w.finance = shop_web.post(f"{home}orders/{order.number}/", {"amount": ""})
    with schema_context(bank.schema_name):
        w.loan_before = Loan.objects.filter(order_id=order.pk).first()

    # The merchant ships; the buyer confirms receipt on bank A's storefront.
    w.ship = shop_web.post(f"/merchant/{merchant.pk}/orders/{order.number}/ship/",
                           {"carrier": "顺丰速运", "tracking_number": f"SF{order.pk:010d}"})
    w.confirm = _web(province.bank_a, shopper).post(f"/orders/{order.number}/confirm/")
    order.refresh_from_db()
    w.order_status = order.status

    # Bank B's settlement run, queued to the worker (after any run of another module).
    run = None
    deadline = time.monotonic() + WAIT
    while run is None:
        try:
            run = settlement.settlement_run_start(bank=bank, cutoff=timezone.now())
        except ApplicationError:
            assert time.monotonic() < deadline, "a bank-B run stays under way"
            time.sleep(0.5)
    run_settlement.delay(run.pk)
    _wait("the settlement run", lambda: SettlementRun.objects.filter(
        pk=run.pk, status__in=[RunStatus.COMPLETED, RunStatus.FAILED]).exists())
    run.refresh_from_db()
    w.run = run

    # A scoring run started on the console by the bank's admin, polled like the page does.
    _wait("an open scoring run to close", lambda: not _open_runs(bank))
    with schema_context(bank.schema_name):
        w.profile_before_run = CreditProfile.objects.get(party=PartyKind.MERCHANT,
                                                         merchant_id=merchant.pk)
    web = _web(bank, province.b_admin)
    response = web.post("/console/lending/runs/")
    w.run_start = response
    w.scoring_run_id = int(response.url.rstrip("/").split("/")[-1])
    w.progress = []

    def finished():
        progress = web.get(f"/console/lending/runs/{w.scoring_run_id}/progress/").json()
        w.progress.append(progress)
        return progress["status"] in ("completed", "failed")

    _wait("the scoring run", finished)
    return w


def test_order_financed_from_pages_is_repaid_first_at_settlement_by_the_worker(world):
    bank, order, merchant, run = world.bank, world.order, world.merchant, world.run
    assert world.consent == 302
    # 136.00 of sales in its first month x 2 months, tier A -> 200.
    assert (world.profile.tier, world.profile.limit) == ("A", D("200.00"))
    assert world.finance.status_code == 302, world.finance.content.decode()[:2000]
    assert (world.loan_before.principal, world.loan_before.status) == (
        D("108.80"), LoanStatus.ACTIVE)  # 80 % of 136.00, lent at once
    assert world.ship.status_code == 302 and world.confirm.status_code == 302
    assert world.order_status == OrderStatus.COMPLETED

    assert run.status == RunStatus.COMPLETED, run.error
    assert run.reconciliation[str(bank.pk)]["ok"], run.reconciliation
    # Interest for the days used (at least one): 108.80 x 4.35 % / 360 a day.
    with schema_context(bank.schema_name):
        loan = Loan.objects.get(pk=world.loan_before.pk)
        days = max(1, (timezone.localdate() - loan.start_date).days)
        interest = quantize_money(calc.day_interest(D("108.80"), loan.rate, days))
        assert loan.status == LoanStatus.REPAID
        repayment = loan.repayments.get()
        assert (repayment.source, repayment.principal, repayment.interest) == (
            "settlement", D("108.80"), interest)
    item = SettlementItem.objects.get(order=order)
    assert item.run_id == run.pk
    assert (item.released, item.repaid) == (D("136.00"), D("108.80") + interest)
    assert item.merchant_credit == D("136.00") - D("108.80") - interest
    # The payout pays the merchant the advance and the rest: the order less interest.
    line = PayoutLine.objects.get(batch__run=run, merchant=merchant)
    assert line.amount == D("136.00") - interest

    # Bank B's loan book for the order: the principal went out and came back, the
    # interest is earned, to the fen.
    def booked(kind):
        return sum(p.amount for p in Posting.objects.filter(
            account__kind=kind, account__bank=bank, order=order))

    assert booked(AccountKind.LOAN_PRINCIPAL) == 0
    assert booked(AccountKind.LOAN_INTEREST) == -interest


def test_a_scoring_run_started_on_the_console_runs_in_the_worker_with_progress(
        province, world):
    bank = world.bank
    assert world.run_start.status_code == 302
    last = world.progress[-1]
    assert last["status"] == "completed", world.progress
    assert last["done"] == last["total"] >= 1 and last["percent"] == 100
    assert all(0 <= p["percent"] <= 100 for p in world.progress)
    with schema_context(bank.schema_name):
        run = ScoringRun.objects.get(pk=world.scoring_run_id)
        assert (run.trigger, run.started_by_id) == ("manual", province.b_admin.pk)
        assert run.finished_at >= run.started_at
        after = CreditProfile.objects.get(party=PartyKind.MERCHANT,
                                          merchant_id=world.merchant.pk)
        assert after.computed_at > world.profile_before_run.computed_at
        assert after.consented and after.score is not None
        # Every use of behaviour data for credit is logged against the run.
        assert run.creditdatause_set.filter(merchant_id=world.merchant.pk).exists()
        # The repaid loan now counts in the repayment history.
        assert after.figures["loans_closed"] == 1
    # Bank A's schema has no such run of bank B's admin.
    with schema_context(province.bank_a.schema_name):
        assert not ScoringRun.objects.filter(pk=world.scoring_run_id,
                                             started_by_id=province.b_admin.pk).exists()


def _open_runs(bank) -> bool:
    with schema_context(bank.schema_name):
        return ScoringRun.objects.filter(status__in=["pending", "running"]).exists()
