"""The settlement API under /api/v1/: bank staff's runs, payout batches and lines, a
merchant's statement and settlement account; a shop's settlements; the federation's
monthly referral statement. Real services, database and card server; runs started through
the API are executed in-process with the task's ``.apply()``."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from admission.models import Dossier
from payments import settlement
from payments.models import PayoutLine, PayoutStatus, RunStatus, SettlementRun
from payments.tasks import run_settlement
from payments.tests import test_settlement_pages
from payments.tests.test_settlement_pages import line_of, owner, settled

pytestmark = pytest.mark.django_db

# Two merchants of two banks with a paid, completed checkout (a fixture).
world = test_settlement_pages.world

API = "/api/v1/console/"


def test_staff_start_a_run_and_read_progress_reconciliation_and_batch(province, world,
                                                                       api_on):
    admin = api_on(province.bank_a, province.a_admin)
    response = admin.post(f"{API}settlement-runs/", {}, format="json")
    assert response.status_code == 201, response.json()
    run_id = response.json()["id"]
    assert response.json()["status"] == "pending" and response.json()["scope"] == "bank"
    # A second start while it waits: 400 in the one error shape, nothing created.
    count = SettlementRun.objects.count()
    refused = admin.post(f"{API}settlement-runs/", {}, format="json")
    assert refused.status_code == 400 and refused.json()["message"]
    assert SettlementRun.objects.count() == count

    run_settlement.apply(args=[run_id])
    listed = admin.get(f"{API}settlement-runs/").json()
    assert listed[0]["id"] == run_id and listed[0]["status"] == "completed"
    detail = api_on(province.bank_a, province.a_manager).get(
        f"{API}settlement-runs/{run_id}/").json()
    assert detail["percent"] == 100 and detail["orders_done"] == detail["orders_total"]
    report = detail["reconciliation"]
    assert report["ok"] is True and report["bank"] == province.bank_a.code
    assert all(c["difference"] == "0.00" and c["ok"] for c in report["checks"])
    assert Decimal(report["run"]["released"]) >= Decimal("99.00")

    batch = admin.get(f"{API}payout-batches/{detail['payout_batch']}/").json()
    line = next(x for x in batch["lines"] if x["merchant"] == world.merchant_a.pk)
    assert (line["amount"], line["status"], line["account_number"]) == (
        "99.00", "sent", "6230000000000000011")
    download = admin.get(batch["file_url"])
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert batch["file_name"] in download["Content-Disposition"]
    records = download.content.decode().splitlines(keepends=True)
    assert records[-1].strip() == (f"T,{batch['line_count']},{batch['total']},"
                                   + hashlib.sha256("".join(records[:-1]).encode())
                                   .hexdigest())
    assert batch["checksum"] == records[-1].strip().split(",")[-1]


def test_bad_run_inputs_and_low_roles_start_nothing(province, world, api_on):
    count = SettlementRun.objects.count()
    admin = api_on(province.bank_a, province.a_admin)
    future = (timezone.now() + timezone.timedelta(days=1)).isoformat()
    for body in ({"cutoff": "yesterday"}, {"cutoff": future}):
        response = admin.post(f"{API}settlement-runs/", body, format="json")
        assert response.status_code == 400 and "cutoff" in response.json()["errors"]
    for user in (province.a_manager, province.a_credit):
        assert api_on(province.bank_a, user).post(
            f"{API}settlement-runs/", {}, format="json").status_code == 403
    assert api_on(province.bank_a).get(f"{API}settlement-runs/").status_code == 401
    assert SettlementRun.objects.count() == count


def test_payout_lines_fail_and_confirm_through_the_api(province, world, api_on):
    run = settled(province.bank_a)
    line = line_of(run, world.merchant_a)
    officer = api_on(province.bank_a, province.a_credit)
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = officer.post(f"{API}payout-lines/{line.pk}/fail/", body, format="json")
        assert response.status_code == 400 and "reason" in response.json()["errors"]
    line.refresh_from_db()
    assert line.status == PayoutStatus.SENT
    assert api_on(province.bank_a, province.a_manager).post(
        f"{API}payout-lines/{line.pk}/confirm/").status_code == 403

    failed = officer.post(f"{API}payout-lines/{line.pk}/fail/", {"reason": "账户冻结"},
                          format="json")
    assert failed.status_code == 200
    assert (failed.json()["status"], failed.json()["failure_reason"]) == ("failed", "账户冻结")
    assert settlement.payable_balances(bank=province.bank_a)[world.merchant_a.pk] == \
        Decimal("99.00")
    again = officer.post(f"{API}payout-lines/{line.pk}/confirm/")
    assert again.status_code == 400 and again.json()["message"]

    retry = line_of(settled(province.bank_a), world.merchant_a)
    confirmed = officer.post(f"{API}payout-lines/{retry.pk}/confirm/")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert settlement.payable_balances(bank=province.bank_a)[world.merchant_a.pk] == 0
    assert settlement.reconciliation(bank=province.bank_a)["ok"]


def test_another_banks_staff_get_404_and_change_nothing(province, world, api_on):
    run = settled(province.bank_a)
    line = line_of(run, world.merchant_a)
    b_admin = api_on(province.bank_b, province.b_admin)
    for url in (f"settlement-runs/{run.pk}/", f"payout-batches/{line.batch_id}/",
                f"payout-batches/{line.batch_id}/file/",
                f"merchants/{world.merchant_a.pk}/statement/"):
        assert b_admin.get(f"{API}{url}").status_code == 404, url
    assert b_admin.post(f"{API}payout-lines/{line.pk}/confirm/").status_code == 404
    assert b_admin.post(f"{API}payout-lines/{line.pk}/fail/", {"reason": "x"},
                        format="json").status_code == 404
    assert b_admin.put(f"{API}merchants/{world.merchant_a.pk}/settlement-account/", {
        "account_name": "x", "account_number": "6239999999999999999"},
        format="json").status_code == 404
    line.refresh_from_db()
    assert line.status == PayoutStatus.SENT
    assert run.pk not in [r["id"] for r in b_admin.get(f"{API}settlement-runs/").json()]
    # Bank A's admin on bank B's domain is nobody there.
    assert api_on(province.bank_b, province.a_admin).get(
        f"{API}settlement-runs/{run.pk}/").status_code == 404


def test_merchant_statement_and_settlement_account(province, world, api_on):
    run = settled(province.bank_a)
    settlement.payout_line_fail(line=line_of(run, world.merchant_a), reason="户名不符")
    manager = api_on(province.bank_a, province.a_manager)
    data = manager.get(f"{API}merchants/{world.merchant_a.pk}/statement/").json()
    assert data["balance"] == "99.00"
    assert [e["kind"] for e in data["entries"]] == ["payout_fail", "payout", "settle"]
    assert data["entries"][-1]["order"] == world.order_a.number
    assert [e["balance"] for e in data["entries"]] == ["99.00", "0.00", "99.00"]
    assert data["payout_lines"][0]["status"] == "failed"

    url = f"{API}merchants/{world.merchant_a.pk}/settlement-account/"

    def number():
        with schema_context(province.bank_a.schema_name):
            return Dossier.objects.get(merchant=world.merchant_a).settlement_account_number

    for body in ({"account_name": "甲果园", "account_number": "62300000abc00011"},
                 {"account_name": "甲果园", "account_number": "1234"},
                 {"account_name": "甲果园"}, {"account_name": "   ",
                                              "account_number": "6230000000000000099"}):
        response = manager.put(url, body, format="json")
        assert response.status_code == 400, body
        assert response.json()["errors"]
        assert number() == "6230000000000000011"
    assert api_on(province.bank_a, province.a_credit).put(url, {
        "account_name": "甲果园", "account_number": "6230000000000000099"},
        format="json").status_code == 403
    response = manager.put(url, {"account_name": "甲果园",
                                 "account_number": "6230 0000 0000 0000 099"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"merchant": world.merchant_a.pk, "account_name": "甲果园",
                               "account_number": "****0099"}
    assert number() == "6230000000000000099"


def test_a_shop_reads_its_own_settlements_only(province, world, api_on):
    settled(province.bank_a)
    url = f"/api/v1/merchant/{world.merchant_a.pk}/settlements/"
    data = api_on(province.bank_a, owner(world.merchant_a)).get(url).json()
    assert data["balance"] == "0.00"
    item = next(i for i in data["items"] if i["order"] == world.order_a.number)
    assert (item["released"], item["repaid"], item["credited"]) == ("99.00", "0.00", "99.00")
    assert data["payout_lines"][0]["amount"] == "99.00"
    assert data["payout_lines"][0]["status"] == "sent"
    other = owner(world.merchant_b)
    assert api_on(province.bank_a, other).get(url).status_code == 404
    assert api_on(province.bank_b, other).get(url).status_code == 404
    assert api_on(province.bank_a, province.a_admin).get(url).status_code == 404


def test_the_referral_statement_api_for_federation_admins(province, world, api_on):
    run = settled()
    assert run.status == RunStatus.COMPLETED
    fed = api_on(None, province.fed_admin)
    url = "/api/v1/federation/referral-statements/"
    month = timezone.localdate().strftime("%Y-%m")
    for query in ("", f"?month={month}"):
        data = fed.get(f"{url}{query}").json()
        assert data["month"] == month
        pair = next(r for r in data["rows"] if {r["bank_a"], r["bank_b"]} == {"bank-a",
                                                                               "bank-b"})
        owed_by_b = pair["a_owes_b"] if pair["bank_a"] == "bank-b" else pair["b_owes_a"]
        assert Decimal(owed_by_b) >= Decimal("0.76")
        assert Decimal(pair["net_a_to_b"]) == Decimal(pair["a_owes_b"]) - Decimal(
            pair["b_owes_a"])
    for bad in ("2026-13", "2026-1", "abc", "1999-01"):
        response = fed.get(f"{url}?month={bad}")
        assert response.status_code == 400 and "month" in response.json()["errors"]
    assert api_on(None, province.a_admin).get(url).status_code == 404
    assert api_on(province.bank_a, province.fed_admin).get(url).status_code == 404
    assert PayoutLine.objects.filter(batch__run=run).exists()
