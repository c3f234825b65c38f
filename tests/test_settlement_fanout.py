"""The daily settlement fanned out, one task per bank, on a real worker with several
processes: each bank's run is queued twice (as when the daily task fires again while
the first tasks are still running), so two processes settle the same bank at once and
the banks settle side by side. Each order is still settled once, each merchant paid
once, every bank reconciles, and the federation's view of the day shows it all.

The books are committed (the worker is another process); the ledger is append-only, so
they stay, settled and paid out, and the checks look at these merchants only.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from orders.models import Order
from payments import settlement
from payments.models import RunStatus, SettlementItem, SettlementRun
from payments.tasks import queue_runs
from tests.test_settlement_crash import (
    QUEUE,
    _assert_settled_once_and_paid_once,
    _books,
    _start_worker,
)

pytestmark = [pytest.mark.django_db, pytest.mark.worker]


@pytest.fixture(scope="module")
def fanned_out(province, django_db_blocker):
    with django_db_blocker.unblock():
        books = _books(province, bulk=300)
        # Completed yesterday, before today's cut-off: the daily runs' orders.
        Order.objects.filter(pk__in=books.orders).update(
            completed_at=timezone.now() - timedelta(days=1, hours=1))
        runs = settlement.settlement_runs_daily()
        ids = [run.pk for run in runs]
        worker = _start_worker(concurrency=3)
        try:
            outcomes = queue_runs(ids + ids, queue=QUEUE).get(timeout=300)
        finally:
            worker.stop()
        return SimpleNamespace(books=books, ids=ids, outcomes=outcomes,
                               runs=list(SettlementRun.objects.filter(pk__in=ids)))


def test_a_run_per_bank_in_parallel_settles_each_order_once_and_pays_once(fanned_out,
                                                                          province):
    assert {run.bank_id for run in fanned_out.runs} >= {province.bank_a.pk,
                                                         province.bank_b.pk}
    assert all(run.bank_id for run in fanned_out.runs)
    assert [o["status"] for o in fanned_out.outcomes] == [RunStatus.COMPLETED] * len(
        fanned_out.outcomes) and len(fanned_out.outcomes) == 2 * len(fanned_out.ids)
    _assert_settled_once_and_paid_once(fanned_out.books, province)
    # Each bank's orders were settled by that bank's run, and its progress is its items.
    for run in fanned_out.runs:
        assert not SettlementItem.objects.filter(run=run).exclude(bank=run.bank_id).exists()
        assert run.orders_done == run.items.count()
        assert all(r["ok"] for r in run.reconciliation.values()), run.reconciliation
    mine = SettlementItem.objects.filter(order__in=fanned_out.books.orders)
    assert set(mine.values_list("run_id", flat=True)) <= set(fanned_out.ids)


def test_the_federation_sees_every_banks_run_of_the_day(fanned_out, province, api_on,
                                                        client_on):
    day = timezone.localdate().isoformat()
    api = api_on(None, province.fed_admin)
    body = api.get(f"/api/v1/federation/settlement-runs/?day={day}").json()
    shown = {r["id"]: r for r in body["runs"]}
    assert set(fanned_out.ids) <= set(shown)
    for run in fanned_out.runs:
        assert shown[run.pk]["status"] == "completed"
        assert shown[run.pk]["bank"] == run.bank.code
        assert shown[run.pk]["orders_done"] == run.orders_done
        assert shown[run.pk]["reconciliation_ok"] is True
    assert body["orders_done"] >= sum(run.orders_done for run in fanned_out.runs) >= 304
    assert api.get("/api/v1/federation/settlement-runs/?day=2026-13-01").status_code == 400
    page = client_on(None, province.fed_admin).get(f"/federation/settlement/?day={day}")
    assert page.status_code == 200
    for run in fanned_out.runs:
        assert f"#{run.pk}" in page.content.decode()
    progress = client_on(None, province.fed_admin).get(
        f"/federation/settlement/progress/?day={day}").json()
    assert progress["orders_done"] == body["orders_done"]
    # Bank staff see none of it.
    other = api_on(province.bank_a, province.a_admin).get(
        "/api/v1/federation/settlement-runs/")
    assert other.status_code == 404
