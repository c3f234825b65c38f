"""Counters over a fixed time window in the cache (Redis), for limits outside sign-in.

Keys go through the cache's tenant-aware key function: a counter kept on a bank's domain
is that bank's own. If the cache cannot be reached, nothing is counted and nothing is
refused (logged): the limits these counters add sit on top of others kept in the
database.
"""

from __future__ import annotations

import logging

from django.core.cache import cache

log = logging.getLogger(__name__)


def count(key: str) -> int:
    try:
        return int(cache.get(f"throttle:{key}") or 0)
    except Exception:  # noqa: BLE001 - the cache is down: do not refuse for that
        log.warning("throttle counter %s unreadable", key, exc_info=True)
        return 0


def hit(key: str, *, window_seconds: int) -> int:
    """Add one to the counter (which starts its window at its first hit); its new value."""
    full = f"throttle:{key}"
    try:
        cache.add(full, 0, timeout=window_seconds)
        return int(cache.incr(full))
    except ValueError:  # expired between add and incr
        cache.set(full, 1, timeout=window_seconds)
        return 1
    except Exception:  # noqa: BLE001
        log.warning("throttle counter %s not counted", key, exc_info=True)
        return 0


def clear_all() -> int:
    """Forget every counter (the test suite, between tests; an operator after an
    incident). Returns how many were removed."""
    client = cache._cache.get_client(None, write=True)  # Django's RedisCache
    keys = list(client.scan_iter(match="*throttle:*", count=1000))
    return client.delete(*keys) if keys else 0
