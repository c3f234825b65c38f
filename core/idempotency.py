"""Idempotency keys: one request per key.

Every API operation that takes an ``Idempotency-Key`` records, next to the key (in the
row the operation creates, or in the cache binding where no row exists yet), a
fingerprint of the request: an HMAC-SHA256 under the project's secret key of the
canonical JSON of the validated request body and the target it acts on. Card numbers
and security codes therefore never lie in clear next to a key, and a guessed card
number cannot be checked against a fingerprint without the secret key.

A key sent again is judged by ``idempotency_check``:

- the same request: the caller replays the first result;
- another request (another card, amount, target): 422 ``idempotency_mismatch``;
- the first request with the key is still in flight: 409 ``idempotency_in_flight``
  with a ``Retry-After`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from core.errors import ConflictError, UnprocessableError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def request_fingerprint(**parts) -> str:
    """The fingerprint of a request: ``parts`` are its validated body and what it acts on
    (a checkout's number, a loan's id). Key order and number types do not matter."""
    canonical = json.dumps(_plain(parts), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hmac.new(str(settings.SECRET_KEY).encode(), canonical.encode(),
                    hashlib.sha256).hexdigest()


def idempotency_mismatch() -> UnprocessableError:
    return UnprocessableError(
        _("This Idempotency-Key was used for a different request. Use a new key for a new "
          "request."), field="idempotency_key", code="idempotency_mismatch")


def idempotency_check(*, stored: str, fingerprint: str, in_flight: bool = False) -> None:
    """Raise unless a request with an already used key may replay the first one's result.
    ``stored`` is the fingerprint recorded with the key (empty for keys recorded before
    fingerprints were: those are compared by their target only)."""
    if stored and fingerprint and not hmac.compare_digest(stored, fingerprint):
        raise idempotency_mismatch()
    if in_flight:
        raise ConflictError(
            _("A request with this Idempotency-Key is still being processed; retry in a "
              "moment."), code="idempotency_in_flight", retry_after=RETRY_AFTER_SECONDS)


def idempotency_bind(*, name: str, fingerprint: str, seconds: int) -> str:
    """For operations whose key has no row of its own: bind the key ``name`` to the
    fingerprint in the cache (first request wins) and return the fingerprint bound, to
    pass to ``idempotency_check`` as ``stored``. When the cache is down it returns
    ``fingerprint`` (the services and the database still refuse doing a thing twice)."""
    try:
        cache.add(name, fingerprint, seconds)
        bound = cache.get(name, fingerprint)
    except Exception:  # noqa: BLE001 - the cache is an aid, not the source of truth
        log.warning("idempotency cache unavailable", exc_info=True)
        return fingerprint
    return bound if isinstance(bound, str) else ""


@contextmanager
def idempotency_in_flight(*, name: str, seconds: int = 120) -> Iterator[None]:
    """For operations whose key has no row to show it is in flight: while the block runs,
    the same key sent again is a 409 (``ConflictError`` with Retry-After). The mark
    expires after ``seconds`` should the process stop; without a cache it does nothing."""
    try:
        claimed = cache.add(f"{name}:busy", 1, seconds)
    except Exception:  # noqa: BLE001 - the cache is an aid, not the source of truth
        log.warning("idempotency cache unavailable", exc_info=True)
        claimed = None
    if claimed is False:
        idempotency_check(stored="", fingerprint="", in_flight=True)
    try:
        yield
    finally:
        if claimed:
            try:
                cache.delete(f"{name}:busy")
            except Exception:  # noqa: BLE001
                log.warning("idempotency cache unavailable", exc_info=True)
