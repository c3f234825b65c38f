"""Celery: a task queued in a bank's context runs in that bank's schema, in a real worker."""

import time

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from rewards.tasks import describe_programme

pytestmark = [pytest.mark.django_db, pytest.mark.worker]


def test_a_task_queued_in_a_banks_context_runs_in_its_schema(province, celery_worker_process):
    with schema_context(province.bank_a.schema_name):
        result_a = describe_programme.delay()
    with schema_context(province.bank_b.schema_name):
        result_b = describe_programme.delay()
    result_public = describe_programme.delay()
    assert connection.schema_name == "public"

    assert result_a.get(timeout=30) == {"schema": "bank_bank_a", "programme": "甲农商行积分"}
    assert result_b.get(timeout=30) == {"schema": "bank_bank_b", "programme": "乙农商行积分"}
    assert result_public.get(timeout=30) == {"schema": "public", "programme": None}


def test_worker_heartbeat_makes_healthz_report_the_worker(province, celery_worker_process,
                                                          client_on):
    from core.health import HEARTBEAT_KEY, _redis
    from core.tasks import heartbeat

    _redis().delete(HEARTBEAT_KEY)
    heartbeat.delay()
    deadline = time.monotonic() + 30
    while _redis().get(HEARTBEAT_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    body = client_on(province.bank_a).get("/healthz").json()
    assert body["worker"]["ok"] is True
    assert "heartbeat_age_seconds" in body["worker"]
    assert body["ok"] is True


def test_the_daily_flag_scan_runs_in_each_banks_schema(province, celery_worker_process):
    from admission.tasks import scan_all_banks, scan_bank_flags

    assert scan_all_banks.delay().get(timeout=30) >= 2
    with schema_context(province.bank_a.schema_name):
        result = scan_bank_flags.delay()
    assert set(result.get(timeout=30)) == {"raised", "resolved", "open"}
