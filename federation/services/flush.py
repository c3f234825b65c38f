"""Moving buffered events (``federation.recorder``) into ``Event``, one COPY per batch,
exactly once: a batch is moved to an in-flight list under a random name before it is
written, the name is recorded (``EventBatch``) in the transaction of the COPY, and the
list is removed after the commit. A lock keeps flushes from overlapping.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from accounts.models import Consent, ConsentPurpose
from banks.models import Bank
from catalog.models import Product, Sku
from federation import catalogue, recorder
from federation.models import Event, EventBatch, EventKind
from federation.services._common import local_day
from orders.models import ShareLink

log = logging.getLogger(__name__)


INFLIGHT_KEY = "fed:events:inflight"
INFLIGHT_BATCH_KEY = "fed:events:inflight:batch"
LOCK_KEY = "fed:events:flush-lock"
LOCK_SECONDS = 120

# Moves up to ARGV[1] events from the buffer to the in-flight list, atomically, and
# names the batch (ARGV[2]): the name goes with the batch until it is written.
_TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  for i = 1, #items, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
  end
  redis.call('SET', KEYS[3], ARGV[2])
end
return items
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

COPY_COLUMNS = ("kind", "at", "day", "storefront_bank_id", "merchant_bank_id", "merchant_id",
                "product_id", "category_id", "region", "session_hash", "user_id", "segment",
                "query", "quantity", "amount", "order_id", "checkout_id", "sharer_id",
                "results")
_COPY_DEFAULTS = {"region": "", "session_hash": "", "segment": "", "query": "", "quantity": 0,
                  "amount": Decimal("0.00")}
_KINDS = set(EventKind.values)
_MAX_AMOUNT = Decimal("999999999999.99")


@dataclass
class FlushResult:
    events: int = 0
    batches: int = 0
    rejected: int = 0
    busy: bool = False


def events_flush(*, batch_size: int | None = None, max_batches: int = 100) -> FlushResult:
    """Move buffered events into the table, ``batch_size`` per COPY."""
    batch_size = min(batch_size or settings.TRAFFIC_FLUSH_BATCH, 20000)
    redis = recorder.client()
    token = secrets.token_hex(8)
    result = FlushResult()
    if not redis.set(LOCK_KEY, token, nx=True, ex=LOCK_SECONDS):
        result.busy = True
        return result
    try:
        take = redis.register_script(_TAKE)
        for _batch in range(max_batches):
            lines = redis.lrange(INFLIGHT_KEY, 0, -1)  # left by a flush that failed
            if lines:
                key = (redis.get(INFLIGHT_BATCH_KEY) or b"").decode() or secrets.token_hex(16)
            else:
                key = secrets.token_hex(16)
                lines = take(keys=[recorder.BUFFER_KEY, INFLIGHT_KEY, INFLIGHT_BATCH_KEY],
                             args=[batch_size, key])
            if not lines:
                break
            rows, rejected = resolve(lines)
            written = write_batch(key, rows)
            redis.delete(INFLIGHT_KEY, INFLIGHT_BATCH_KEY)
            result.events += written
            result.rejected += rejected
            result.batches += 1
            redis.expire(LOCK_KEY, LOCK_SECONDS)
    finally:
        redis.register_script(_RELEASE)(keys=[LOCK_KEY], args=[token])
    if result.rejected:
        log.warning("%d buffered events rejected (malformed or not in the catalogue)",
                    result.rejected)
    return result


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value) or None
    return None


def _text(value, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def resolve(lines: Iterable[bytes | str]) -> tuple[list[dict], int]:
    """Buffered JSON lines -> rows of ``Event``: products, SKUs and share links resolved
    to merchant, banks, category and region in a few queries per batch; a user id kept
    only with the person's BEHAVIOUR consent; what the catalogue does not declare
    dropped. Returns (rows, number of lines rejected)."""
    parsed, rejected = [], 0
    for line in lines:
        try:
            raw = json.loads(line)
            kind = raw.get("kind")
            allowed = catalogue.recordable_fields(kind)
            if kind not in _KINDS or allowed is None:
                raise ValueError(kind)
            at = datetime.fromtimestamp(float(raw["at"]), tz=UTC)
        except Exception:
            rejected += 1
            continue
        parsed.append((kind, at, {k: v for k, v in raw.items() if k in allowed}))

    sku_ids = {i for _k, _a, f in parsed if (i := _int(f.get("sku_id")))}
    sku_product = dict(Sku.objects.filter(pk__in=sku_ids).values_list("pk", "product_id"))
    codes = {c for _k, _a, f in parsed if (c := _text(f.get("share_code"), 40))}
    links = {code: (sharer, product) for code, sharer, product in ShareLink.objects.filter(
        code__in=codes).values_list("code", "sharer_id", "product_id")}

    rows = []
    for kind, at, fields in parsed:
        product_id = _int(fields.get("product_id"))
        if product_id is None and (sku := _int(fields.get("sku_id"))):
            product_id = sku_product.get(sku)
        sharer_id = None
        if kind == EventKind.SHARE_CLICK:
            link = links.get(_text(fields.get("share_code"), 40))
            if link is None:
                continue  # an unknown code: not a share-link click
            sharer_id, product_id = link[0], link[1] or product_id
        try:
            amount = Decimal(str(fields.get("amount", "0"))).quantize(Decimal("0.01"))
            if not amount.is_finite() or abs(amount) > _MAX_AMOUNT:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            amount = Decimal("0.00")
        quantity = fields.get("quantity", 0)
        results = fields.get("results")
        rows.append({
            "kind": kind, "at": at, "day": local_day(at),
            "storefront_bank_id": _int(fields.get("storefront_bank_id")),
            "product_id": product_id,
            "session_hash": _text(fields.get("session_hash"), 64),
            "user_id": _int(fields.get("user_id")),
            "segment": _text(fields.get("segment"), 16),
            "query": _text(fields.get("query"), 200),
            "quantity": quantity if isinstance(quantity, int) and 0 <= quantity < 2**31 else 0,
            "amount": amount,
            "order_id": _int(fields.get("order_id")),
            "checkout_id": _int(fields.get("checkout_id")),
            "sharer_id": sharer_id,
            "results": (results if kind == EventKind.SEARCH and isinstance(results, int)
                        and not isinstance(results, bool) and 0 <= results < 2**31 else None),
        })

    products = {p["pk"]: p for p in Product.objects.filter(
        pk__in={r["product_id"] for r in rows if r["product_id"]}).values(
        "pk", "merchant_id", "merchant__bank_id", "category_id", "origin_county")}
    people = {r["user_id"] for r in rows if r["user_id"]} | {
        r["sharer_id"] for r in rows if r["sharer_id"]}
    consenting = set(Consent.objects.filter(
        user_id__in=people, bank__isnull=True, purpose=ConsentPurpose.BEHAVIOUR,
        withdrawn_at__isnull=True).values_list("user_id", flat=True)) if people else set()
    banks = _bank_ids()
    for row in rows:
        product = products.get(row["product_id"])
        if product is None:
            row["product_id"] = None
        row["merchant_id"] = product["merchant_id"] if product else None
        row["merchant_bank_id"] = product["merchant__bank_id"] if product else None
        row["category_id"] = product["category_id"] if product else None
        row["region"] = (product["origin_county"] or "")[:80] if product else ""
        if row["storefront_bank_id"] not in banks:
            row["storefront_bank_id"] = None
        if row["user_id"] not in consenting:
            row["user_id"] = None
        if row["sharer_id"] not in consenting:
            row["sharer_id"] = None
    return rows, rejected


def _bank_ids() -> set[int]:
    return set(Bank.objects.values_list("pk", flat=True))


def _copy_value(value) -> str:
    kind = type(value)
    if value is None:
        return "\\N"
    if kind is int:
        return str(value)
    if kind is str:
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return (value.replace("\\", "\\\\").replace("\t", "\\t")
                    .replace("\n", "\\n").replace("\r", "\\r"))
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return _copy_value(str(value))


def write_batch(key: str, rows: list[dict]) -> int:
    """Write a named batch of rows once: the name and the rows in one transaction; a
    name already recorded writes nothing (returns 0)."""
    with transaction.atomic():
        _batch, created = EventBatch.objects.get_or_create(
            key=key, defaults={"written_at": timezone.now(), "events": len(rows)})
        if not created:
            log.warning("event batch %s was already written; not written again", key)
            return 0
        return write_events(rows)


def write_events(rows: list[dict]) -> int:
    """Append rows of ``Event`` with one COPY (public schema); a missing text or number
    column is blank or 0."""
    if not rows:
        return 0
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_value(row.get(c, _COPY_DEFAULTS.get(c)))
                                for c in COPY_COLUMNS))
        buffer.write("\n")
    buffer.seek(0)
    table = connection.ops.quote_name(Event._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL search_path TO {get_public_schema_name()}")
        cursor.copy_expert(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN", buffer)
    return len(rows)
