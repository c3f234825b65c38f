"""Health of the platform's components, for /healthz and the run command."""

from __future__ import annotations

import time

import redis
from celery import current_app
from django.conf import settings
from django.db import connection

HEARTBEAT_KEY = "platform:worker-heartbeat"
HEARTBEAT_FRESH_SECONDS = 60


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=2)


def record_heartbeat() -> float:
    now = time.time()
    _redis().set(HEARTBEAT_KEY, now, ex=300)
    return now


def check_database() -> dict:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {"ok": False, "error": exc.__class__.__name__}


def check_redis() -> dict:
    try:
        _redis().ping()
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}


def check_worker() -> dict:
    """A worker is up if its scheduled heartbeat is fresh, or if it answers a ping."""
    try:
        value = _redis().get(HEARTBEAT_KEY)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}
    if value is not None:
        age = time.time() - float(value)
        if age < HEARTBEAT_FRESH_SECONDS:
            return {"ok": True, "heartbeat_age_seconds": round(age, 1)}
    try:
        replies = current_app.control.ping(timeout=1.0)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": bool(replies), "workers": len(replies)}


def platform_health() -> dict:
    checks = {
        "database": check_database(),
        "redis": check_redis(),
        "worker": check_worker(),
    }
    return {"ok": all(c["ok"] for c in checks.values()), **checks}
