"""A run whose worker died (still "running") or that failed can be queued again by a
bank admin; the daily task starts one run per bank and re-queues stuck runs instead of
skipping forever."""

import pytest

from payments import settlement
from payments.models import RunStatus, SettlementRun

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", [RunStatus.RUNNING, RunStatus.FAILED])
def test_a_bank_admin_resumes_a_stopped_run(province, client_on, status,
                                            django_capture_on_commit_callbacks):
    run = settlement.settlement_run_start(bank=province.bank_a)
    SettlementRun.objects.filter(pk=run.pk).update(status=status)
    client = client_on(province.bank_a, province.a_admin)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/console/settlement/runs/{run.pk}/resume/")
    assert response.status_code == 302
    assert len(callbacks) == 1  # the run is queued once the request commits


def test_resume_is_refused_for_a_completed_run_and_hidden_from_other_banks(
        province, client_on, django_capture_on_commit_callbacks):
    run = settlement.settlement_run_start(bank=province.bank_a)
    SettlementRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    with django_capture_on_commit_callbacks() as callbacks:
        client_on(province.bank_a, province.a_admin).post(
            f"/console/settlement/runs/{run.pk}/resume/")
    assert callbacks == []
    other = client_on(province.bank_b, province.b_admin).post(
        f"/console/settlement/runs/{run.pk}/resume/")
    assert other.status_code == 404
    manager = client_on(province.bank_a, province.a_manager).post(
        f"/console/settlement/runs/{run.pk}/resume/")
    assert manager.status_code == 403


def test_the_daily_task_fans_out_one_run_per_bank_and_requeues_stuck_runs(province,
                                                                          monkeypatch):
    from banks.models import Bank
    from payments import tasks

    stuck = settlement.settlement_run_start()
    SettlementRun.objects.filter(pk=stuck.pk).update(status=RunStatus.RUNNING)
    stuck_a = settlement.settlement_run_start(bank=province.bank_a)
    SettlementRun.objects.filter(pk=stuck_a.pk).update(status=RunStatus.RUNNING)
    queued = []
    # Only the queueing call is replaced (the broker is outside what this test checks).
    monkeypatch.setattr(tasks, "queue_runs", queued.append)
    ids = tasks.settle_daily()
    assert queued == [ids]
    runs = SettlementRun.objects.filter(pk__in=ids)
    assert stuck.pk in ids and stuck_a.pk in ids
    banks = set(Bank.objects.filter(is_active=True).values_list("pk", flat=True))
    assert set(runs.exclude(bank=None).values_list("bank_id", flat=True)) == banks
    assert runs.exclude(bank=None).count() == len(banks)  # one run per bank, no more
    # The next day's task (the runs still under way) queues the same runs, none new.
    assert sorted(tasks.settle_daily()) == sorted(ids)


# --- the rules in the services, whoever calls them --------------------------------------


@pytest.mark.parametrize("status", [RunStatus.RUNNING, RunStatus.FAILED])
def test_the_resume_service_queues_a_stopped_run(province, status,
                                                 django_capture_on_commit_callbacks):
    run = settlement.settlement_run_start(bank=province.bank_a)
    SettlementRun.objects.filter(pk=run.pk).update(status=status)
    run.refresh_from_db()
    with django_capture_on_commit_callbacks() as callbacks:
        settlement.settlement_run_resume(bank=province.bank_a, run=run)
    assert len(callbacks) == 1


@pytest.mark.parametrize("status", [RunStatus.PENDING, RunStatus.COMPLETED])
def test_the_resume_service_refuses_a_waiting_or_finished_run(
        province, status, django_capture_on_commit_callbacks):
    from core.errors import ApplicationError

    run = settlement.settlement_run_start(bank=province.bank_a)
    SettlementRun.objects.filter(pk=run.pk).update(status=status)
    run.refresh_from_db()
    with django_capture_on_commit_callbacks() as callbacks, \
            pytest.raises(ApplicationError) as refused:
        settlement.settlement_run_resume(bank=province.bank_a, run=run)
    assert refused.value.code == "not_resumable" and callbacks == []


def test_the_resume_service_refuses_another_banks_or_the_all_bank_run(
        province, django_capture_on_commit_callbacks):
    from core.errors import ApplicationError

    run = settlement.settlement_run_start(bank=province.bank_a)
    everyone = settlement.settlement_run_start()
    SettlementRun.objects.filter(pk__in=[run.pk, everyone.pk]).update(
        status=RunStatus.FAILED)
    for bank, target in ((province.bank_b, run), (province.bank_a, everyone)):
        target.refresh_from_db()
        with django_capture_on_commit_callbacks() as callbacks, \
                pytest.raises(ApplicationError):
            settlement.settlement_run_resume(bank=bank, run=target)
        assert callbacks == []


def test_the_start_service_refuses_a_cutoff_in_the_future(province):
    from django.utils import timezone

    from core.errors import ApplicationError

    before = SettlementRun.objects.count()
    with pytest.raises(ApplicationError) as refused:
        settlement.settlement_run_start(bank=province.bank_a,
                                        cutoff=timezone.now() + timezone.timedelta(hours=1))
    assert refused.value.field == "cutoff"
    assert SettlementRun.objects.count() == before
