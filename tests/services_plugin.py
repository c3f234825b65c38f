"""Starts the external components the test session needs, before Django's settings load.

Loaded with ``-p tests.services_plugin`` (see pyproject.toml), so it runs before
pytest-django imports the settings. Unless ``REDIS_URL`` / ``STRIPE_API_BASE`` point at
external servers, it starts a private Redis and a private Stripe-compatible server on free
loopback ports, so a test run never touches the data of a running ``make run``. PostgreSQL
is the embedded server (or ``DATABASE_URL``); pytest-django creates a test database on it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from config import embedded

_started: list[embedded.ManagedProcess] = []
TEST_TMP = Path(tempfile.mkdtemp(prefix="platform-tests-"))
os.environ.setdefault("PLATFORM_TEST_TMP", str(TEST_TMP))


# Tests hash many passwords; PBKDF2's deliberate slowness is not what they test. The
# variable reaches the worker and web server the tests start, so they verify the hashes.
os.environ["PLATFORM_INSECURE_FAST_PASSWORD_HASHER"] = "1"

# Settlement runs in chunks of 50 orders in the tests (2,000 by default), so that the
# runs of a few hundred orders the tests make go through several chunks.
os.environ.setdefault("SETTLEMENT_CHUNK", "50")

# The test session is development (the settings refuse development values otherwise);
# pytest-django still runs the tests with DEBUG off. The web server and worker it starts
# run in production mode with explicit test values (conftest._child_env).
os.environ.setdefault("DJANGO_DEBUG", "true")
# One key for the session and its child processes (sessions, code hashes are shared).
os.environ.setdefault("DJANGO_SECRET_KEY", "test-session-only-key-" + "0123456789abcdef" * 3)


def _start() -> None:
    if not os.environ.get("REDIS_URL"):
        port = embedded.free_port()
        _started.append(embedded.redis_process(port, TEST_TMP / "redis.log").start())
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    if not os.environ.get("STRIPE_API_BASE"):
        port = embedded.free_port()
        _started.append(embedded.stripe_process(
            port, TEST_TMP / "stripe-state.pickle", TEST_TMP / "stripe.log",
            from_scratch=True).start())
        os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{port}"


def stop_services() -> None:
    while _started:
        _started.pop().stop()
    # Logs and browser screenshots: kept with PLATFORM_KEEP_TEST_FILES=1 (to look at them).
    if os.environ.get("PLATFORM_KEEP_TEST_FILES") != "1":
        shutil.rmtree(TEST_TMP, ignore_errors=True)


_start()
atexit.register(stop_services)


def pytest_unconfigure(config) -> None:
    stop_services()
