"""Test fixtures shared by every app: a small province created once per session.

Banks (with their schemas) are made once, by the real onboarding service, and committed;
each test then runs in a transaction that is rolled back. Tests that need another process
to see their data (a Celery worker, a web server for the browser) use the session's
committed data.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

PASSWORD = "Test@pass-2026"

# Property tests run the same examples every time (seeded from each test), so that a
# failure is reproduced by running the suite again; no example database between runs.
hypothesis_settings.register_profile("platform", derandomize=True, database=None)
hypothesis_settings.load_profile("platform")

TEST_TMP = Path(os.environ.get("PLATFORM_TEST_TMP", "/tmp"))


def make_province():
    from accounts.services import user_register
    from banks.models import StaffRole
    from banks.services import BranchSpec, bank_onboard, staff_grant

    a = bank_onboard(
        code="bank-a", name="甲县农村商业银行", short_name="甲农商行", region="甲县",
        slogan="甲县好物", brand_color="#1f7a4d",
        branches=[BranchSpec(code="hq", name="甲农商行营业部", county="甲县",
                             address="甲县人民路 1 号", opening_hours="周一至周日 08:30-17:30"),
                  BranchSpec(code="east", name="甲县城东支行", county="甲县东乡",
                             address="东乡大道 8 号", opening_hours="周一至周五 09:00-17:00")],
    ).bank
    b = bank_onboard(
        code="bank-b", name="乙县农村商业银行", short_name="乙农商行", region="乙县",
        brand_color="#2457a6",
        branches=[BranchSpec(code="hq", name="乙农商行营业部", county="乙县",
                             address="乙县解放路 2 号")],
    ).bank

    def user(username, **extra):
        return user_register(username=username, password=PASSWORD, **extra)

    p = SimpleNamespace(bank_a=a, bank_b=b, password=PASSWORD)
    p.fed_admin = user("t-fed-admin", is_federation_admin=True)
    p.a_admin = user("t-a-admin", display_name="甲管理员")
    p.a_manager = user("t-a-manager")
    p.a_credit = user("t-a-credit")
    p.b_admin = user("t-b-admin")
    p.b_manager = user("t-b-manager")
    p.shopper = user("t-shopper", phone="13700000001", display_name="张三")
    staff_grant(bank=a, user=p.a_admin, role=StaffRole.BANK_ADMIN)
    staff_grant(bank=a, user=p.a_manager, role=StaffRole.ACCOUNT_MANAGER,
                branch=a.branches.get(code="east"))
    staff_grant(bank=a, user=p.a_credit, role=StaffRole.CREDIT_OFFICER)
    staff_grant(bank=b, user=p.b_admin, role=StaffRole.BANK_ADMIN)
    staff_grant(bank=b, user=p.b_manager, role=StaffRole.ACCOUNT_MANAGER)
    p.a_branch = a.branches.get(code="hq")
    p.b_branch = b.branches.get(code="hq")
    return p


@pytest.fixture(scope="session")
def province(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return make_province()


@pytest.fixture(autouse=True)
def _no_listing_cache(settings):
    """Tests see the catalog as it is at once (the storefront caches counts and facets)."""
    settings.CATALOG_LISTING_CACHE_SECONDS = 0
    settings.STOREFRONT_CACHE_SECONDS = 0
    settings.STOREFRONT_PAGE_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Counters in Redis (the desk's code throttling) are not rolled back with a test."""
    yield
    from core import throttle

    throttle.clear_all()


@pytest.fixture(autouse=True)
def _public_schema_after_each_test():
    yield
    if connection.connection is not None or connection.schema_name:
        connection.set_schema_to_public()


def host_of(bank) -> str:
    return "localhost" if bank is None else f"{bank.code}.localhost"


@pytest.fixture
def client_on():
    """client_on(bank_or_None, user=None): a Django test client on that bank's domain
    (or the portal), logged in as ``user`` if given."""
    from django.test import Client

    def make(bank=None, user=None):
        client = Client(HTTP_HOST=host_of(bank))
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def api_on():
    def make(bank=None, user=None):
        client = APIClient(HTTP_HOST=host_of(bank))
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def _close_sessions_of_stopped_children(django_db_blocker) -> None:
    """Child processes may leave a backend behind for a moment after they exit; end them
    (and wait: pg_terminate_backend only signals) so that pytest-django can drop the test
    database."""
    others = ("SELECT pid FROM pg_stat_activity "
              "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute(f"SELECT pg_terminate_backend(pid) FROM ({others}) AS o")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cur.execute(others)
            if not cur.fetchall():
                break
            time.sleep(0.1)


def _child_env() -> dict[str, str]:
    from config.embedded import database_url

    return {
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": os.environ["REDIS_URL"],
        "STRIPE_API_BASE": os.environ["STRIPE_API_BASE"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # Production mode (DEBUG off, as before), with values made for the tests (the
        # secret key is the test session's own, tests/services_plugin.py).
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": ".localhost,localhost,127.0.0.1",
        "DJANGO_HTTPS": "false",
        "SETTLEMENT_CHUNK": os.environ.get("SETTLEMENT_CHUNK", ""),
    }


@pytest.fixture(scope="session")
def celery_worker_process(province, django_db_blocker):
    """A real Celery worker (prefork) on the test database and the test Redis."""
    from config.celery import app
    from config.embedded import ManagedProcess

    with django_db_blocker.unblock():
        env = _child_env()
    worker = ManagedProcess(
        name="worker",
        args=[sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel",
              "INFO", "--concurrency", "2", "--hostname", f"test-worker-{os.getpid()}@%h"],
        env=env, log_path=TEST_TMP / "worker.log").start(wait=False)
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if not worker.alive() or time.monotonic() > deadline:
            log = (TEST_TMP / "worker.log").read_text(errors="replace")[-3000:]
            worker.stop()
            pytest.fail(f"the Celery worker did not start:\n{log}")
    yield worker
    worker.stop()
    _close_sessions_of_stopped_children(django_db_blocker)


@pytest.fixture(scope="session")
def web_server(province, django_db_blocker):
    """The real web server (gunicorn) on the test database, for browser tests."""
    from config.embedded import ManagedProcess, free_port

    with django_db_blocker.unblock():
        env = _child_env()
    port = free_port()
    server = ManagedProcess(
        name="web",
        args=[sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
              f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning",
              "--limit-request-line", "8190"],
        port=port, env=env, log_path=TEST_TMP / "web.log").start()
    yield SimpleNamespace(port=port, url=lambda host="localhost", path="/":
                          f"http://{host}:{port}{path}")
    server.stop()
    _close_sessions_of_stopped_children(django_db_blocker)
