"""Idempotency keys: one request per key, in one store.

Every operation that takes a client's ``Idempotency-Key`` (checkout payment, loan
repayment, the points mall's cash part, partner orders, order and checkout financing)
records it in one table, ``core.IdempotencyKey``: per kind of request (``scope``) and
per owner (the user or partner who sent it, with the bank for a bank's private data;
two owners' equal keys never meet), with a fingerprint of the request and the row the
request made. The fingerprint is an HMAC-SHA256 under the project's secret key of the
canonical JSON of the validated request body and the target it acts on: card numbers
and security codes never lie in clear next to a key, and a guessed card number cannot
be checked against a fingerprint without the secret key.

Two ways to record a key, one store:

- operations that commit a row of their own before anything leaves the platform (a
  pending payment before the card is charged) record the key in that row's transaction
  (``idempotency_record``, with the row as target);
- operations done by a service in one transaction of its own (financing) begin with
  ``idempotency_begin`` (the key committed, no target yet: in flight), then
  ``idempotency_finish`` with what was made, or ``idempotency_forget`` when nothing was.

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
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ConflictError, UnprocessableError
from core.models import IdempotencyKey

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
# A key begun but neither finished nor forgotten this long ago belongs to a request whose
# process stopped: the next request with it takes it over.
IN_FLIGHT_SECONDS = 120


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
        raise idempotency_in_flight_error()


def key_owner(*, user=None, partner=None, bank=None) -> str:
    """Whose keys a key is among: a user's or a partner's, with the bank for a bank's
    private data ("bank:3/user:12")."""
    parts = [f"{name}:{value.pk}" for name, value in
             (("bank", bank), ("user", user), ("partner", partner)) if value is not None]
    if not parts:
        raise ValueError("a key needs an owner")
    return "/".join(parts)


def idempotency_find(*, scope: str, owner: str, key: str) -> IdempotencyKey | None:
    """The record of ``key`` as ``owner`` sent it for ``scope``, if any."""
    if not key:
        return None
    return IdempotencyKey.objects.filter(scope=scope, owner=owner, key=key).first()


def idempotency_record(*, scope: str, owner: str, key: str, fingerprint: str,
                       target_id: int | None = None) -> IdempotencyKey:
    """Record ``key`` in the caller's transaction (a savepoint of its own), for the row
    ``target_id`` its request made (or, recorded first thing, ``idempotency_finish`` in
    the same transaction). A request with the same key at the same moment waits here
    until this transaction ends. Raises ``IntegrityError`` when a request with the same
    key recorded it first: the caller then replays that one's result."""
    with transaction.atomic():
        return IdempotencyKey.objects.create(scope=scope, owner=owner, key=key,
                                             fingerprint=fingerprint, target_id=target_id)


def idempotency_begin(*, scope: str, owner: str, key: str,
                      fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """Start a request under ``key``: returns (record, replay). A new key is committed at
    once, in flight (no target) until ``idempotency_finish`` or ``idempotency_forget``;
    replay False. A key used before: 422 for another request, 409 while the first is in
    flight; replay True with the first's record when it has its result. A key in flight
    for longer than ``IN_FLIGHT_SECONDS`` is taken over (replay False)."""
    for _attempt in range(2):
        record = idempotency_find(scope=scope, owner=owner, key=key)
        if record is None:
            try:
                with transaction.atomic():
                    return IdempotencyKey.objects.create(
                        scope=scope, owner=owner, key=key, fingerprint=fingerprint), False
            except IntegrityError:  # the same key, at the same moment: judge the first
                continue
        idempotency_check(stored=record.fingerprint, fingerprint=fingerprint)
        if record.target_id is not None:
            return record, True
        stale = timezone.now() - timedelta(seconds=IN_FLIGHT_SECONDS)
        taken = IdempotencyKey.objects.filter(pk=record.pk, target_id__isnull=True,
                                              created_at__lt=stale
                                              ).update(created_at=timezone.now())
        if not taken:
            raise idempotency_in_flight_error()
        record.refresh_from_db()
        return record, False
    raise idempotency_in_flight_error()


def idempotency_in_flight_error() -> ConflictError:
    return ConflictError(
        _("A request with this Idempotency-Key is still being processed; retry in a "
          "moment."), code="idempotency_in_flight", retry_after=RETRY_AFTER_SECONDS)


def idempotency_finish(record: IdempotencyKey, *, target_id: int) -> None:
    """The request begun under ``record`` made ``target_id``: replays return it."""
    IdempotencyKey.objects.filter(pk=record.pk).update(target_id=target_id)
    record.target_id = target_id


def idempotency_forget(record: IdempotencyKey | None) -> None:
    """The request under ``record`` made nothing (refused before anything happened): the
    key is free again."""
    if record is not None:
        IdempotencyKey.objects.filter(pk=record.pk).delete()
