"""The settlement pages of the bank console, the merchant console and the federation
console, through the Django test client on the banks' domains and the portal, with orders
placed, paid and completed by the real services against the local card server.

Runs started from a page in a rolled-back test are executed in-process with the task's
``.apply()``; one module fixture goes through the real worker end to end (committed data,
the page starts the run, the worker settles it, the page shows the batch and its file).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import time
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from admission.models import Dossier
from core.errors import ApplicationError
from payments import selectors, settlement
from payments.models import PayoutLine, PayoutStatus, RunStatus, SettlementRun
from payments.tasks import run_settlement
from payments.tests.test_settlement import _account, _complete
from tests import test_browser, unique
from tests.orders_factories import market, pay, place
from tests.test_browser import shot

pytestmark = pytest.mark.django_db

HOME = "/console/settlement/"
REFUSED = "已有结算批次正在进行。"  # "A settlement run is already under way."


def owner(merchant):
    return merchant.members.get().user


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def world(province):
    """Merchant A (bank A) and merchant B (bank B), both with an account on file; one
    checkout on bank A's storefront: 2 x 45.50 + 8.00 delivery from A, 68.00 + 8.00 from B
    (cross-bank: bank B owes bank A 1 %), paid and completed."""
    shop = market(province)
    _account(province.bank_a, shop.merchant_a, "6230000000000000011")
    _account(province.bank_b, shop.merchant_b, "6231000000000000022")
    checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 2), (shop.sku_b, 1)])
    pay(checkout)
    _complete(checkout, province.a_manager)
    shop.order_a = checkout.orders.get(merchant=shop.merchant_a)
    shop.order_b = checkout.orders.get(merchant=shop.merchant_b)
    return shop


def settled(bank=None):
    run = settlement.settlement_run_start(bank=bank, cutoff=timezone.now())
    return settlement.settlement_run_execute(run.pk)


def line_of(run, merchant) -> PayoutLine:
    return PayoutLine.objects.get(batch__run=run, merchant=merchant)


# --- runs ----------------------------------------------------------------------------------


def test_a_bank_admin_starts_a_run_and_follows_it_to_the_batch(province, world, client_on):
    client = client_on(province.bank_a, province.a_admin)
    home = client.get(HOME)
    assert home.status_code == 200 and "cutoff" in text(home)
    assert world.merchant_a.name in text(home)  # the merchants' table

    response = client.post(f"{HOME}runs/", {"cutoff": ""})
    run = SettlementRun.objects.filter(bank=province.bank_a).latest("id")
    assert response.status_code == 302 and response.url == f"{HOME}runs/{run.pk}/"
    assert (run.status, run.started_by) == (RunStatus.PENDING, province.a_admin)

    # While it waits: a second start is refused with the reason, nothing is created.
    count = SettlementRun.objects.count()
    again = client.post(f"{HOME}runs/", {"cutoff": ""})
    assert again.status_code == 400
    assert REFUSED in text(again) and SettlementRun.objects.count() == count
    page = client.get(f"{HOME}runs/{run.pk}/")
    assert page.status_code == 200 and 'id="run-progress"' in text(page)
    assert "data-progress-url=" in text(page)  # follows the run while under way (site.js)
    progress = client.get(f"{HOME}runs/{run.pk}/progress/").json()
    assert progress["status"] == "pending"

    run_settlement.apply(args=[run.pk])
    progress = client.get(f"{HOME}runs/{run.pk}/progress/").json()
    assert progress["status"] == "completed" and progress["percent"] == 100
    assert progress["orders_done"] == progress["orders_total"] >= 1
    page = text(client.get(f"{HOME}runs/{run.pk}/"))
    assert "data-progress-url=" not in page
    line = line_of(run, world.merchant_a)
    assert line.amount == Decimal("99.00")
    assert f'id="line-{line.pk}"' in page and "¥99.00" in page
    assert "st-alarm" not in page and "st-check bad" not in page
    assert f"{HOME}batches/{line.batch_id}/file/" in page
    # Bank B's merchant was not in bank A's run.
    assert not PayoutLine.objects.filter(batch__run=run, merchant=world.merchant_b).exists()


def test_a_bad_cutoff_or_a_low_role_starts_nothing(province, world, client_on):
    before = SettlementRun.objects.count()
    admin = client_on(province.bank_a, province.a_admin)
    future = timezone.localtime() + timezone.timedelta(days=2)
    for bad in ("not a date", future.strftime("%Y-%m-%dT%H:%M")):
        response = admin.post(f"{HOME}runs/", {"cutoff": bad})
        assert response.status_code == 400
    assert client_on(province.bank_a, province.a_manager).post(
        f"{HOME}runs/", {"cutoff": ""}).status_code == 403
    assert client_on(province.bank_a, province.a_credit).post(
        f"{HOME}runs/", {"cutoff": ""}).status_code == 403
    assert SettlementRun.objects.count() == before


def test_a_mismatch_is_flagged_in_red(province, world, client_on):
    run = settled(province.bank_a)
    # Book a wrong movement inside this rolled-back test (escrow "released" to the card
    # clearing instead of a merchant): the report must show it, not hide it.
    from payments.models import AccountKind
    from payments.services import Leg, ledger_account, ledger_post

    bank_id = province.bank_a.pk
    ledger_post(kind="settle", reference=f"test:broken:{run.pk}", legs=[
        Leg(ledger_account(kind=AccountKind.ESCROW, bank_id=bank_id,
                           merchant_id=world.merchant_a.pk), Decimal("1.00")),
        Leg(ledger_account(kind=AccountKind.CARD_CLEARING, bank_id=bank_id),
            Decimal("-1.00"))])
    page = text(client_on(province.bank_a, province.a_manager).get(f"{HOME}runs/{run.pk}/"))
    assert "st-alarm" in page and page.count("st-check bad") == 1
    assert "<b>¥1.00</b>" in page  # the difference, to the fen


def test_a_run_not_finished_shows_its_state_and_no_reconciliation_verdict(
        province, world, client_on, api_on):
    """While a run waits for a worker, runs or has stopped, the page says so; it gives no
    verdict on the books (here they are even off by 1.00, which a finished run shows)."""
    from payments.models import AccountKind
    from payments.services import Leg, ledger_account, ledger_post

    bank_id = province.bank_a.pk
    ledger_post(kind="settle", reference="test:broken:waiting", legs=[
        Leg(ledger_account(kind=AccountKind.ESCROW, bank_id=bank_id,
                           merchant_id=world.merchant_a.pk), Decimal("1.00")),
        Leg(ledger_account(kind=AccountKind.CARD_CLEARING, bank_id=bank_id),
            Decimal("-1.00"))])
    run = settlement.settlement_run_start(bank=province.bank_a, cutoff=timezone.now())
    client = client_on(province.bank_a, province.a_manager)
    url = f"{HOME}runs/{run.pk}/"

    page = text(client.get(url))
    assert 'id="run-waiting"' in page and 'id="orders-done"' not in page
    assert "st-alarm" not in page and "st-check" not in page
    assert 'id="run-reconciliation"' in page
    detail = api_on(province.bank_a, province.a_manager).get(
        f"/api/v1/console/settlement-runs/{run.pk}/").json()
    assert detail["status"] == "pending" and detail["reconciliation"] is None

    SettlementRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, orders_done=3,
                                                   orders_total=7)
    page = text(client.get(url))
    assert ('<span id="orders-done" data-key="orders_done">3</span> / '
            '<span id="orders-total" data-key="orders_total">7</span>') in page
    assert "st-alarm" not in page and "st-check" not in page

    SettlementRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    page = text(client.get(url))
    assert "st-alarm" not in page and "st-check" not in page

    finished = settlement.settlement_run_execute(run.pk)
    assert finished.status == RunStatus.COMPLETED
    page = text(client.get(url))
    assert "st-alarm" in page and page.count("st-check bad") == 1


# --- payout lines --------------------------------------------------------------------------


def test_payout_lines_fail_and_confirm_through_the_page(province, world, client_on):
    run = settled(province.bank_a)
    line = line_of(run, world.merchant_a)
    officer = client_on(province.bank_a, province.a_credit)
    url = f"{HOME}lines/{line.pk}/"

    # An empty reason: 400 with the message, the line still sent, the money in transit.
    response = officer.post(f"{url}fail/", {f"l{line.pk}-reason": "   "})
    assert response.status_code == 400
    line.refresh_from_db()
    assert line.status == PayoutStatus.SENT
    assert settlement.payable_balances(bank=province.bank_a)[world.merchant_a.pk] == 0
    # An account manager may not mark payouts.
    assert client_on(province.bank_a, province.a_manager).post(
        f"{url}confirm/").status_code == 403

    response = officer.post(f"{url}fail/", {f"l{line.pk}-reason": "账户冻结"})
    assert response.status_code == 302 and response.url == f"{HOME}runs/{run.pk}/"
    line.refresh_from_db()
    assert (line.status, line.failure_reason) == (PayoutStatus.FAILED, "账户冻结")
    assert settlement.payable_balances(bank=province.bank_a)[world.merchant_a.pk] == \
        Decimal("99.00")
    # A failed line cannot be confirmed.
    assert officer.post(f"{url}confirm/").status_code == 400

    retry_run = settled(province.bank_a)
    retry = line_of(retry_run, world.merchant_a)
    assert retry.amount == Decimal("99.00")
    response = officer.post(f"{HOME}lines/{retry.pk}/confirm/")
    assert response.status_code == 302
    retry.refresh_from_db()
    assert retry.status == PayoutStatus.CONFIRMED
    assert settlement.payable_balances(bank=province.bank_a)[world.merchant_a.pk] == 0
    assert officer.post(f"{HOME}lines/{retry.pk}/confirm/").status_code == 400
    page = text(officer.get(f"{HOME}runs/{retry_run.pk}/"))
    assert "st-status confirmed" in page


def test_the_payout_file_downloads_with_its_checksum_line(province, world, client_on):
    run = settled(province.bank_a)
    batch = run.batches.get(bank=province.bank_a)
    response = client_on(province.bank_a, province.a_manager).get(
        f"{HOME}batches/{batch.pk}/file/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="{batch.file_name}"'
    body = response.content.decode()
    assert body == batch.file_content
    records = body.splitlines(keepends=True)
    assert records[0].startswith(f"H,{province.bank_a.code},{batch.pk},{run.pk},")
    assert any(r.startswith("D,") and "6230000000000000011" in r and ",99.00,CNY," in r
               for r in records)
    trailer = records[-1].strip().split(",")
    assert trailer[:3] == ["T", str(batch.line_count), f"{batch.total:.2f}"]
    assert trailer[3] == hashlib.sha256("".join(records[:-1]).encode()).hexdigest()


# --- isolation -----------------------------------------------------------------------------


def test_another_banks_staff_get_404_and_change_nothing(province, world, client_on):
    run = settled(province.bank_a)
    line = line_of(run, world.merchant_a)
    b_staff = client_on(province.bank_b, province.b_admin)
    for url in (f"{HOME}runs/{run.pk}/", f"{HOME}runs/{run.pk}/progress/",
                f"{HOME}batches/{line.batch_id}/file/",
                f"{HOME}merchants/{world.merchant_a.pk}/"):
        assert b_staff.get(url).status_code == 404, url
    assert b_staff.post(f"{HOME}lines/{line.pk}/confirm/").status_code == 404
    assert b_staff.post(f"{HOME}lines/{line.pk}/fail/",
                        {f"l{line.pk}-reason": "x"}).status_code == 404
    assert b_staff.post(f"{HOME}merchants/{world.merchant_a.pk}/account/", {
        "account_name": "x", "account_number": "6239999999999999999"}).status_code == 404
    line.refresh_from_db()
    assert line.status == PayoutStatus.SENT
    # Bank A's staff on bank B's domain are not staff there.
    assert client_on(province.bank_b, province.a_admin).get(HOME).status_code == 404
    # Bank B's page does not list bank A's own run.
    assert f"{HOME}runs/{run.pk}/" not in text(b_staff.get(HOME))


def test_a_run_over_every_bank_shows_each_bank_only_its_own_batch(province, world,
                                                                   client_on):
    run = settled()
    a_line, b_line = line_of(run, world.merchant_a), line_of(run, world.merchant_b)
    page_a = text(client_on(province.bank_a, province.a_admin).get(f"{HOME}runs/{run.pk}/"))
    page_b = text(client_on(province.bank_b, province.b_admin).get(f"{HOME}runs/{run.pk}/"))
    assert f'id="line-{a_line.pk}"' in page_a and f'id="line-{b_line.pk}"' not in page_a
    assert f'id="line-{b_line.pk}"' in page_b and f'id="line-{a_line.pk}"' not in page_b
    assert "6231000000000000022" not in page_a


# --- merchants -----------------------------------------------------------------------------


def test_the_merchant_statement_and_settlement_account(province, world, client_on):
    settled(province.bank_a)
    url = f"{HOME}merchants/{world.merchant_a.pk}/"
    manager = client_on(province.bank_a, province.a_manager)
    page = text(manager.get(url))
    assert world.order_a.number in page and "+¥99.00" in page and "−¥99.00" in page
    assert "****0011" in page

    def number():
        with schema_context(province.bank_a.schema_name):
            return Dossier.objects.get(merchant=world.merchant_a).settlement_account_number

    for bad in ({"account_name": "甲果园", "account_number": "12ab"},
                {"account_name": "甲果园", "account_number": "123"},
                {"account_name": "", "account_number": "6230000000000000099"}):
        assert manager.post(f"{url}account/", bad).status_code == 400
        assert number() == "6230000000000000011"
    assert client_on(province.bank_a, province.a_credit).post(f"{url}account/", {
        "account_name": "甲果园", "account_number": "6230000000000000099"}).status_code == 403
    response = manager.post(f"{url}account/", {"account_name": "甲果园",
                                               "account_number": "6230 0000 0000 0000 099"})
    assert response.status_code == 302
    assert number() == "6230000000000000099"
    assert "****0099" in text(manager.get(url))


def test_the_merchant_console_shows_settlements_to_the_shop_only(province, world, client_on):
    run = settled(province.bank_a)
    settlement.payout_line_fail(line=line_of(run, world.merchant_a), reason="户名不符")
    url = f"/merchant/{world.merchant_a.pk}/settlements/"
    page = text(client_on(province.bank_a, owner(world.merchant_a)).get(url))
    assert world.order_a.number in page and "¥99.00" in page
    assert "户名不符" in page and "st-status failed" in page
    # The shop's console links to it.
    shop = text(client_on(province.bank_a, owner(world.merchant_a)).get(
        f"/merchant/{world.merchant_a.pk}/"))
    assert url in shop
    # Another shop's member, on either domain, and bank staff who are not members: 404.
    other = owner(world.merchant_b)
    assert client_on(province.bank_a, other).get(url).status_code == 404
    assert client_on(province.bank_b, other).get(url).status_code == 404
    assert client_on(province.bank_a, province.a_admin).get(url).status_code == 404


def test_the_statement_pages_through_and_downloads_whole_or_by_month(province, world,
                                                                      client_on):
    run = settled(province.bank_a)
    settlement.payout_line_fail(line=line_of(run, world.merchant_a), reason="户名不符")
    merchant = client_on(province.bank_a, owner(world.merchant_a))
    url = f"/merchant/{world.merchant_a.pk}/settlements/"
    entries = selectors.statement_rows(
        settlement.merchant_statement(merchant=world.merchant_a))
    assert len(entries) >= 3  # settled, paid out, payout failed

    for client, page_url in ((merchant, url),
                             (client_on(province.bank_a, province.a_manager),
                              f"{HOME}merchants/{world.merchant_a.pk}/")):
        whole = client.get(page_url, {"format": "csv"})
        assert whole.status_code == 200 and whole["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(whole.content.decode("utf-8-sig"))))
        assert len(rows) == len(entries) + 1
        # oldest first; the balance column is the running sum of the amounts, to the fen
        running = Decimal("0.00")
        for row in rows[1:]:
            running += Decimal(row[4])
            assert Decimal(row[5]) == running
        assert rows[-1][5] == f"{entries[0]['balance']:.2f}"
        assert world.order_a.number in {row[2] for row in rows}

    this_month = timezone.localdate().strftime("%Y-%m")
    rows = list(csv.reader(io.StringIO(merchant.get(
        url, {"format": "csv", "month": this_month}).content.decode("utf-8-sig"))))
    assert len(rows) == len(entries) + 1
    empty = list(csv.reader(io.StringIO(merchant.get(
        url, {"format": "csv", "month": "2001-01"}).content.decode("utf-8-sig"))))
    assert len(empty) == 1
    assert "YYYY-MM" in text(merchant.get(url, {"month": "2026-13"}))
    # another shop's member cannot download it
    assert client_on(province.bank_a, owner(world.merchant_b)).get(
        url, {"format": "csv"}).status_code == 404


# --- federation ----------------------------------------------------------------------------


def test_the_referral_statement_for_federation_admins_only(province, world, client_on):
    settled()
    fed = client_on(None, province.fed_admin)
    page = fed.get("/federation/referral-statements/")
    assert page.status_code == 200
    assert province.bank_a.name in text(page) and province.bank_b.name in text(page)
    month = timezone.localdate().strftime("%Y-%m")
    assert f'value="{month}"' in text(page)
    csv = fed.get(f"/federation/referral-statements/?month={month}&format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert f"referral-statement-{month}.csv" in csv["Content-Disposition"]
    rows = csv.content.decode().splitlines()
    assert rows[0] == "month,bank_a,bank_b,a_owes_b,b_owes_a,net_a_to_b"
    pair = next(r.split(",") for r in rows[1:] if {"bank-a", "bank-b"} <= set(r.split(",")))
    owed_by_b = Decimal(pair[3] if pair[1] == "bank-b" else pair[4])
    assert owed_by_b >= Decimal("0.76")
    for bad in ("2026-13", "26-01", "abc", "2026-1"):
        assert fed.get(f"/federation/referral-statements/?month={bad}").status_code == 400
    assert "referral-statements" in text(fed.get("/federation/"))
    # Anyone else: 404, on the portal and on a bank's domain.
    assert client_on(None, province.a_admin).get(
        "/federation/referral-statements/").status_code == 404
    assert client_on(province.bank_a, province.fed_admin).get(
        "/federation/referral-statements/").status_code == 404


# --- end to end with the real worker -------------------------------------------------------


@pytest.fixture(scope="module")
def worker_run(province, celery_worker_process, django_db_blocker):
    """Committed: a completed paid order of a new bank-A merchant with an account; the
    bank admin starts the run on the page; the real worker settles it."""
    with django_db_blocker.unblock():
        shop = market(province)
        _account(province.bank_a, shop.merchant_a, "6230000000000007788")
        checkout = place(province.shopper, province.bank_a, [(shop.sku_a, 3)])
        pay(checkout)
        _complete(checkout, province.a_manager)
        order = checkout.orders.get()
        # A bank-B shop's sale through bank A's storefront, settled at bank B: a referral
        # fee for the federation's statement (the browser test looks at it).
        _account(province.bank_b, shop.merchant_b, "6231000000000007799")
        cross = place(province.shopper, province.bank_a, [(shop.sku_b, 2)])
        pay(cross)
        _complete(cross, province.b_manager)
        # (Refused only while a bank-B run of another module is under way.)
        with contextlib.suppress(ApplicationError):
            settled(province.bank_b)
        # Wait for any bank-A run another module left under way.
        deadline = time.monotonic() + 120
        while SettlementRun.objects.filter(bank=province.bank_a, status__in=[
                RunStatus.PENDING, RunStatus.RUNNING]).exists():
            assert time.monotonic() < deadline, "a bank-A run stays under way"
            time.sleep(0.5)
        client = Client(HTTP_HOST=f"{province.bank_a.code}.localhost")
        client.force_login(province.a_admin)
        response = client.post(f"{HOME}runs/", {"cutoff": ""})
        assert response.status_code == 302, response.content.decode()[:2000]
        run_id = int(response.url.rstrip("/").split("/")[-1])
        seen = []
        deadline = time.monotonic() + 120
        while True:
            progress = client.get(f"{HOME}runs/{run_id}/progress/").json()
            seen.append(progress["status"])
            if progress["status"] in ("completed", "failed"):
                break
            assert time.monotonic() < deadline, f"the run did not finish: {seen}"
            time.sleep(0.3)
        yield SimpleNamespace(shop=shop, order=order, run_id=run_id, seen=seen,
                              client=client, tag=unique.tag())


@pytest.mark.worker
def test_the_worker_settles_a_run_started_on_the_page(province, worker_run):
    run = SettlementRun.objects.get(pk=worker_run.run_id)
    assert run.status == RunStatus.COMPLETED, run.error
    assert (run.bank, run.started_by) == (province.bank_a, province.a_admin)
    assert run.orders_done == run.orders_total >= 1
    assert worker_run.order.settlement.run == run
    line = line_of(run, worker_run.shop.merchant_a)
    # 3 x 45.50 = 136.50, free delivery over 99.
    assert (line.amount, line.status) == (Decimal("136.50"), PayoutStatus.SENT)
    page = text(worker_run.client.get(f"{HOME}runs/{run.pk}/"))
    assert f'id="line-{line.pk}"' in page and "¥136.50" in page
    batch = line.batch
    download = worker_run.client.get(f"{HOME}batches/{batch.pk}/file/")
    assert download.status_code == 200 and batch.file_name in download["Content-Disposition"]
    body = download.content.decode()
    assert "6230000000000007788" in body and ",136.50,CNY," in body
    records = body.splitlines(keepends=True)
    assert records[-1].startswith(f"T,{batch.line_count},{batch.total:.2f},")
    assert records[-1].strip().endswith(
        hashlib.sha256("".join(records[:-1]).encode()).hexdigest())
    assert run.reconciliation[str(province.bank_a.pk)]["ok"], run.reconciliation


# --- in a real browser: the run page and the referral statement, desktop and phone ---------

browser = test_browser.browser
page = test_browser.page
phone_page = test_browser.phone_page
PHONE_WIDTH = 390


def _log_in(pg, web_server, host: str, username: str, password: str, next_path: str):
    pg.goto(web_server.url(host, f"/accounts/login/?next={next_path}"))
    pg.fill("input[name=username]", username)
    pg.fill("input[name=password]", password)
    with pg.expect_navigation():
        pg.click("main button[type=submit]")
    assert pg.url.endswith(next_path), pg.url


def _screens(pg, screen: str, province, worker_run, web_server) -> None:
    run_path = f"{HOME}runs/{worker_run.run_id}/"
    _log_in(pg, web_server, "bank-a.localhost", "t-a-admin", province.password, run_path)
    line = line_of(SettlementRun.objects.get(pk=worker_run.run_id), worker_run.shop.merchant_a)
    row = pg.locator(f"#line-{line.pk}")
    assert "136.50" in row.inner_text()
    assert row.locator("button:has-text('确认已付')").is_visible()
    assert pg.locator(".st-check").count() >= 4 and pg.locator(".st-check.bad").count() == 0
    shot(pg, f"settlement-run-{screen}")
    if screen == "phone":
        assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH

    _log_in(pg, web_server, "localhost", "t-fed-admin", province.password,
            "/federation/referral-statements/")
    assert pg.locator("input[type=month]").input_value() == \
        timezone.localdate().strftime("%Y-%m")
    assert pg.locator("table.oc-table tr:has-text('bank-b')").count() >= 1
    shot(pg, f"referral-statement-{screen}")
    if screen == "phone":
        assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH


@pytest.mark.browser
@pytest.mark.worker
def test_the_run_page_and_the_referral_statement_on_a_desktop(page, province, worker_run,
                                                              web_server):
    _screens(page, "desktop", province, worker_run, web_server)


@pytest.mark.browser
@pytest.mark.worker
def test_the_run_page_and_the_referral_statement_on_a_phone(phone_page, province, worker_run,
                                                            web_server):
    _screens(phone_page, "phone", province, worker_run, web_server)
