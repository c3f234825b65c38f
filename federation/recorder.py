"""Recording traffic and behaviour events without slowing a page.

``record(kind, request=..., **fields)`` appends one compact JSON line to a Redis list and
returns; ``federation.tasks.events_flush`` (every few seconds, Celery beat) moves the
list into ``federation.Event`` in batches (one COPY per batch), resolving products,
merchants and banks and applying consent there. ``record`` never raises and never waits
long: the Redis client has short time-outs, and after a failure recording is switched
off for ``PAUSE_AFTER_FAILURE`` seconds (a page never waits for a Redis that is down);
events that could not be buffered are counted (``dropped()``) and the count is added to
Redis once it answers again, so the loss is visible (``buffer_stats``).

What may be recorded is declared in ``federation.catalogue``: a field a kind does not
declare is not buffered.

The visitor: a page on a storefront carries a first-party cookie ``VISITOR_COOKIE`` with
a random token (no account, no fingerprint); events carry only a keyed hash of it
(``session_hash``). A request without the cookie is the first of a visit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time

import redis
from django.conf import settings

from federation import catalogue

log = logging.getLogger(__name__)

BUFFER_KEY = "fed:events"
DROPPED_KEY = "fed:events:dropped"
VISITOR_COOKIE = "pv"
PAUSE_AFTER_FAILURE = 5.0

_lock = threading.Lock()
_client = None
_paused_until = 0.0
_dropped = 0          # not yet reported to Redis
_dropped_total = 0    # since the process started


def client():
    """The Redis client for the buffer (short time-outs; created once per process)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            getattr(settings, "TRAFFIC_REDIS_URL", "") or settings.REDIS_URL,
            socket_timeout=settings.TRAFFIC_REDIS_TIMEOUT,
            socket_connect_timeout=settings.TRAFFIC_REDIS_TIMEOUT,
            health_check_interval=0)
    return _client


def reset_client() -> None:
    """Forget the client and the pause (tests point the recorder at another server)."""
    global _client, _paused_until
    with _lock:
        _client, _paused_until = None, 0.0


def dropped() -> int:
    """Events this process could not buffer since it started."""
    return _dropped_total


def keyed_hash(value: str) -> str:
    """A keyed SHA-256 (the platform's secret): the same input gives the same hash on
    every server, and the input cannot be recovered or tested without the secret."""
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def new_visitor_token() -> str:
    return secrets.token_urlsafe(12)


def request_context(request) -> dict:
    """What every event of a request carries: the storefront, the visitor, the user."""
    context: dict = {}
    bank = getattr(request, "bank", None)
    context["storefront_bank_id"] = bank.pk if bank is not None else None
    token = (getattr(request, "traffic_visitor", None)
             or request.COOKIES.get(VISITOR_COOKIE, "").partition(".")[0])
    if not token and getattr(request, "session", None) is not None:
        token = request.session.session_key
    if token:
        context["session_hash"] = keyed_hash(f"v:{token}")
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # Buffered for seconds; the flush keeps it only with the user's consent.
        context["user_id"] = user.pk
    return context


def encode(kind: str, at: float | None = None, **fields) -> str | None:
    """One buffered event as a JSON line; None when the catalogue does not allow it."""
    allowed = catalogue.recordable_fields(kind)
    if allowed is None:
        return None
    row = {"kind": kind, "at": at if at is not None else time.time()}
    for name, value in fields.items():
        if name in allowed and value not in (None, ""):
            row[name] = value if isinstance(value, int | float | str) else str(value)
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False)


def record(kind: str, request=None, **fields) -> bool:
    """Buffer one event; True when it was buffered. Never raises."""
    try:
        if request is not None:
            fields = {**request_context(request), **fields}
        line = encode(kind, **fields)
        if line is None:
            log.warning("event kind %r is not in the data catalogue; not recorded", kind)
            return False
        return push([line])
    except Exception:  # never let statistics break the page
        log.exception("recording a %s event", kind)
        _count_drop(1)
        return False


def push(lines: list[str]) -> bool:
    """Append encoded events to the buffer. Never raises; counts what it cannot push."""
    global _paused_until, _dropped
    if not lines:
        return True
    if not settings.TRAFFIC_RECORDING:
        return False
    now = time.monotonic()
    if now < _paused_until:
        _count_drop(len(lines))
        return False
    pending = 0
    try:
        conn = client()
        with _lock:
            pending, _dropped = _dropped, 0
        pipe = conn.pipeline(transaction=False)
        pipe.rpush(BUFFER_KEY, *lines)
        if pending:
            pipe.incrby(DROPPED_KEY, pending)
        pipe.execute()
        return True
    except Exception as exc:
        with _lock:
            _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
            _dropped += pending
        _count_drop(len(lines))
        log.warning("event buffer unavailable (%s); recording paused %.0fs",
                    exc.__class__.__name__, PAUSE_AFTER_FAILURE)
        return False


def _count_drop(count: int) -> None:
    global _dropped, _dropped_total
    with _lock:
        _dropped += count
        _dropped_total += count


def buffer_stats() -> dict:
    """Events waiting in the buffer and the drops reported so far (None if unreachable)."""
    try:
        conn = client()
        waiting, dropped_count = conn.llen(BUFFER_KEY), conn.get(DROPPED_KEY)
        return {"waiting": waiting, "dropped": int(dropped_count or 0) + _dropped}
    except Exception:
        return {"waiting": None, "dropped": _dropped}
