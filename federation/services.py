"""Writes of the federation's traffic data: moving buffered events into the table,
the daily roll-ups, retention, and the log of uses of personal behaviour data.

- ``events_flush``: the Redis buffer (``federation.recorder``) into ``Event``, one COPY
  per batch. Exactly once: a batch is moved to an in-flight list under a random name
  before it is written, the name is recorded (``EventBatch``) in the transaction of the
  COPY, and the list is removed after the commit; a flush that died before the commit
  leaves the batch for the next flush, one that died after it leaves a batch the next
  flush finds already written and drops. A lock keeps flushes from overlapping.
- ``rollup_day``: one day's ``Daily*Stat`` rows recomputed from that day's events (and
  the referral fees settlement booked that day) in one transaction: delete, then
  ``INSERT ... SELECT ... GROUP BY``. Idempotent; run it again whenever late events
  arrive. Concurrent runs of the same day wait for each other (an advisory lock).
- ``retention_enforce``: what the data catalogue says is past its time is deleted.
- ``data_use_log`` / ``behaviour_for_credit``: a use of one person's behaviour data is
  allowed only for a purpose the catalogue lists (credit: with the person's consent to
  that bank) and is logged.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name

from core.errors import ApplicationError
from federation import catalogue, recorder
from federation.models import (
    DailyCategoryStat,
    DailyMerchantStat,
    DailyPairStat,
    DailyProductStat,
    DailyRegionStat,
    DailySegmentStat,
    DataUse,
    Event,
    EventBatch,
    EventKind,
    RollupState,
    RollupWatermark,
)

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


def local_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_day(at: datetime) -> date:
    return at.astimezone(local_zone()).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first instant of the local day and of the next one."""
    start = datetime.combine(day, time.min, tzinfo=local_zone())
    return start, start + timedelta(days=1)


# --- flush -------------------------------------------------------------------------------


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
    from accounts.models import Consent, ConsentPurpose
    from catalog.models import Product, Sku
    from orders.models import ShareLink

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
    from banks.models import Bank

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


# --- roll-ups ----------------------------------------------------------------------------
#
# Two ways to the same rows. ``rollup_recent`` (every 15 minutes) counts only the events
# past the watermark (``RollupWatermark``): their plain counts and sums are added to the
# day rows (``INSERT ... ON CONFLICT DO UPDATE`` adding), and each distinct count
# (orders, checkouts, buyers per group and day) grows by the members that no event
# counted before had: the raw events already rolled up are the set, asked through small
# partial indexes (purchases by order and by buyer, checkouts by checkout). The watermark
# moves in the same transaction. ``rollup_day`` rebuilds one day from all its events up
# to the watermark with the same statements (nothing counted before: no question asked).

_BUYER = "coalesce(nullif({a}session_hash, ''), 'u' || {a}user_id::text)"
_SB, _MB = "storefront_bank_id", "merchant_bank_id"
ROLLUP_LOCK = (7007, 0)  # pg_advisory_xact_lock: one roll-up at a time
ROLLUP_CHUNK = 2_000_000  # event ids per transaction when catching up


@dataclass(frozen=True)
class _Distinct:
    """One exact distinct count: members (``member`` of events of ``kind``) per group."""

    kind: str
    member: str  # an Event column, or the buyer expression
    group: tuple[str, ...]
    where: str = ""  # on the events counted, "{a}" = the table alias

    def member_sql(self, alias: str) -> str:
        """The member on the raw events (``alias`` "e."); the staged rows carry the buyer
        expression as a column of its own."""
        if self.member == "buyer" and alias == "e.":
            return _BUYER.format(a=alias)
        return alias + self.member


_DISTINCT = {
    "pair_checkouts": _Distinct("checkout", "checkout_id", (_SB, _MB)),
    "pair_orders": _Distinct("purchase", "order_id", (_SB, _MB)),
    "pair_buyers": _Distinct("purchase", "buyer", (_SB, _MB)),
    "merchant_orders": _Distinct("purchase", "order_id", ("merchant_id", _SB),
                                 "{a}merchant_id IS NOT NULL"),
    "category_orders": _Distinct("purchase", "order_id", ("category_id", _SB, _MB),
                                 "{a}product_id IS NOT NULL"),
    "region_orders": _Distinct("purchase", "order_id", ("region", _SB, _MB),
                               "{a}product_id IS NOT NULL"),
    "segment_buyers": _Distinct("purchase", "buyer", (_SB, "segment")),
    "segment_orders": _Distinct("purchase", "order_id", (_SB, "segment")),
    "product_orders": _Distinct("purchase", "order_id", ("product_id", _SB),
                                "{a}product_id IS NOT NULL"),
}


@dataclass(frozen=True)
class _Rollup:
    """A roll-up table: its key, which staged groups it takes (``where``), what it sums
    from them, what it keeps the largest of, and which distinct counts it holds."""

    model: type
    constraint: str
    keys: tuple[str, ...]
    where: str
    sums: dict[str, str]
    maxes: dict[str, str] = field(default_factory=dict)
    distinct: dict[str, str] = field(default_factory=dict)
    zeros: tuple[str, ...] = ()  # columns the events do not fill (0 on a new row)


_PRODUCT_SEEN = "n_view + n_purchase > 0"
_ROLLUP_TABLES = (
    _Rollup(DailyPairStat, "fed_pairstat_once", (_SB, _MB), "true",
            {"visits": "n_visit", "product_views": "n_view", "searches": "n_search",
             "add_to_cart": "n_cart", "share_clicks": "n_share", "gmv": "gmv"},
            distinct={"checkouts": "pair_checkouts", "orders": "pair_orders",
                      "buyers": "pair_buyers"}, zeros=("referral_fees",)),
    _Rollup(DailyMerchantStat, "fed_merchantstat_once", ("merchant_id", _SB),
            "merchant_id IS NOT NULL AND n_view + n_cart + n_purchase > 0",
            {"product_views": "n_view", "add_to_cart": "n_cart", "gmv": "gmv"},
            maxes={_MB: _MB}, distinct={"orders": "merchant_orders"}),
    _Rollup(DailyCategoryStat, "fed_categorystat_once", ("category_id", _SB, _MB),
            f"product_id IS NOT NULL AND {_PRODUCT_SEEN}",
            {"product_views": "n_view", "gmv": "gmv"},
            distinct={"orders": "category_orders"}),
    _Rollup(DailyRegionStat, "fed_regionstat_once", ("region", _SB, _MB),
            f"product_id IS NOT NULL AND {_PRODUCT_SEEN}",
            {"product_views": "n_view", "gmv": "gmv"},
            distinct={"orders": "region_orders"}),
    _Rollup(DailySegmentStat, "fed_segmentstat_once", (_SB, "segment"), "n_purchase > 0",
            {"gmv": "gmv"}, distinct={"buyers": "segment_buyers", "orders": "segment_orders"}),
    _Rollup(DailyProductStat, "fed_productstat_once", ("product_id", _SB),
            f"product_id IS NOT NULL AND {_PRODUCT_SEEN}",
            {"views": "n_view", "quantity": "qty", "gmv": "gmv"},
            maxes={"merchant_id": "merchant_id", _MB: _MB},
            distinct={"orders": "product_orders"}),
)

ROLLUP_MODELS = tuple(r.model for r in _ROLLUP_TABLES)

_STAGE_KEYS = ("day", _SB, _MB, "merchant_id", "product_id", "category_id", "region",
               "segment")
_DISTINCT_KEYS = ("measure", "day", _SB, _MB, "merchant_id", "product_id", "category_id",
                  "region", "segment")
_COLUMN_TYPES = {_SB: "bigint", _MB: "bigint", "merchant_id": "bigint",
                 "product_id": "bigint", "category_id": "bigint", "region": "varchar",
                 "segment": "varchar"}


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _stage(cursor, where: str, params: dict, *, counted_below: int | None) -> None:
    """Stage the events matching ``where`` (alias-free, on the event table): their plain
    counts and sums per finest group (``fed_rollup_t``), and the distinct members they
    add per measure and group (``fed_rollup_n``): with ``counted_below``, a member
    counts only if no event with an id up to it (already rolled up) had it."""
    event, states = _q(Event._meta.db_table), _q(RollupState._meta.db_table)
    cursor.execute("DROP TABLE IF EXISTS fed_rollup_t, fed_rollup_k, fed_rollup_n")
    keys = ", ".join(_STAGE_KEYS)
    cursor.execute(f"""
        CREATE TEMP TABLE fed_rollup_t ON COMMIT DROP AS
        SELECT {keys}, count(*) AS n_all,
          count(*) FILTER (WHERE kind = 'visit') AS n_visit,
          count(*) FILTER (WHERE kind = 'product_view') AS n_view,
          count(*) FILTER (WHERE kind = 'search') AS n_search,
          count(*) FILTER (WHERE kind = 'add_to_cart') AS n_cart,
          count(*) FILTER (WHERE kind = 'share_click') AS n_share,
          count(*) FILTER (WHERE kind = 'purchase') AS n_purchase,
          coalesce(sum(quantity) FILTER (WHERE kind = 'purchase'), 0) AS qty,
          coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0) AS gmv
        FROM {event} WHERE {where} GROUP BY {keys}""", params)  # noqa: S608 - names from code
    cursor.execute(f"""
        CREATE TEMP TABLE fed_rollup_k ON COMMIT DROP AS
        SELECT DISTINCT {keys}, kind, order_id, checkout_id, {_BUYER.format(a='')} AS buyer
        FROM {event} WHERE ({where}) AND kind IN ('purchase', 'checkout')""",  # noqa: S608
                   params)
    cursor.execute("CREATE TEMP TABLE fed_rollup_n (measure varchar, day date, "
                   + ", ".join(f"{c} {_COLUMN_TYPES[c]}" for c in _DISTINCT_KEYS[2:])
                   + ", n bigint) ON COMMIT DROP")
    for name, d in _DISTINCT.items():
        group = ", ".join(f"k.{c}" for c in d.group)
        member = d.member_sql("k.")
        conditions = [f"k.kind = '{d.kind}'", f"{member} IS NOT NULL"]
        if d.where:
            conditions.append(d.where.format(a="k."))
        if counted_below is not None:
            same_group = " AND ".join(f"e.{c} IS NOT DISTINCT FROM k.{c}" for c in d.group)
            # a day nothing was counted of yet has no member counted before
            conditions.append(f"""NOT (k.day IN (SELECT day FROM {states} WHERE events > 0)
              AND EXISTS (
                SELECT 1 FROM {event} e
                WHERE e.kind = '{d.kind}' AND {d.member_sql('e.')} = {member}
                  AND e.day = k.day AND e.id <= %(counted_below)s AND {same_group}
                  {('AND ' + d.where.format(a='e.')) if d.where else ''}))""")  # noqa: S608
        cursor.execute(f"""
            INSERT INTO fed_rollup_n (measure, day, {', '.join(d.group)}, n)
            SELECT '{name}', k.day, {group}, count(DISTINCT {member})
            FROM fed_rollup_k k WHERE {' AND '.join(conditions)}
            GROUP BY k.day, {group}""",  # noqa: S608 - names and literals from code
                       {**params, "counted_below": counted_below})


def _apply_stage(cursor, *, rebuild: date | None = None) -> None:
    """Add the staged counts to every roll-up table (new rows inserted, existing ones
    added to; the largest of a ``maxes`` column kept). With ``rebuild`` (a day): the
    staged rows are that whole day: rows that differ are replaced, rows no longer there
    deleted, equal rows left alone (so the product spans' trigger has nothing to do)."""
    for r in _ROLLUP_TABLES:
        table = _q(r.model._meta.db_table)
        measures = [*r.sums, *r.maxes, *r.distinct]
        keys = ", ".join(r.keys)
        parts = [f"SELECT day, {keys}, "  # noqa: S608
                 + ", ".join([*(f"{e} AS {c}" for c, e in r.sums.items()),
                              *(f"{e} AS {c}" for c, e in r.maxes.items()),
                              *(f"0 AS {c}" for c in r.distinct)])
                 + f" FROM fed_rollup_t WHERE {r.where}"]  # noqa: S608
        for column, measure in r.distinct.items():
            parts.append(f"SELECT day, {keys}, "  # noqa: S608
                         + ", ".join([*(f"0 AS {c}" for c in r.sums),
                                      *(f"NULL::bigint AS {c}" for c in r.maxes),
                                      *(f"n AS {c}" if c == column else f"0 AS {c}"
                                        for c in r.distinct)])
                         + f" FROM fed_rollup_n WHERE measure = '{measure}'")  # noqa: S608
        totals = ", ".join([*(f"sum({c}) AS {c}" for c in r.sums),
                            *(f"max({c}) AS {c}" for c in r.maxes),
                            *(f"sum({c}) AS {c}" for c in r.distinct)])
        if rebuild is None:
            updates = ", ".join([
                *(f"{c} = s.{c} + EXCLUDED.{c}" for c in [*r.sums, *r.distinct]),
                *(f"{c} = greatest(s.{c}, EXCLUDED.{c})" for c in r.maxes)])
            changed = ""
        else:
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in measures)
            changed = (f" WHERE ({', '.join(f's.{c}' for c in measures)}) IS DISTINCT FROM "
                       f"({', '.join(f'EXCLUDED.{c}' for c in measures)})")
        zeros = "".join(f", {c}" for c in r.zeros)
        cursor.execute("DROP TABLE IF EXISTS fed_rollup_r")
        cursor.execute(f"""
            CREATE TEMP TABLE fed_rollup_r ON COMMIT DROP AS
            SELECT day, {keys}, {totals}
            FROM ({' UNION ALL '.join(parts)}) AS u
            GROUP BY day, {keys}""")  # noqa: S608
        if rebuild is not None:
            same = " AND ".join(
                f"coalesce(r.{c}, -1) = coalesce(t.{c}, -1)"
                if _COLUMN_TYPES[c] == "bigint" else f"r.{c} = t.{c}" for c in r.keys)
            cursor.execute(f"""
                DELETE FROM {table} t WHERE t.day = %s AND NOT EXISTS (
                  SELECT 1 FROM fed_rollup_r r WHERE r.day = t.day AND {same})""",  # noqa: S608
                           [rebuild])
        cursor.execute(f"""
            INSERT INTO {table} AS s (day, {keys}, {', '.join(measures)}{zeros})
            SELECT *{", 0" * len(r.zeros)} FROM fed_rollup_r ORDER BY day, {keys}
            ON CONFLICT ON CONSTRAINT {r.constraint} DO UPDATE SET {updates}{changed}""")  # noqa: S608


def _referral_fees(cursor, days: list[date]) -> None:
    """The referral fees settlement booked on each of ``days`` (local days), put on the
    pair rows (replacing what was there: settlement adds to a day while it lasts)."""
    from payments.models import SettlementItem

    table = _q(DailyPairStat._meta.db_table)
    items = _q(SettlementItem._meta.db_table)
    for day in days:
        start, end = day_bounds(day)
        params = {"day": day, "start": start, "end": end}
        cursor.execute(f"UPDATE {table} SET referral_fees = 0 "  # noqa: S608
                       "WHERE day = %(day)s AND referral_fees <> 0", params)
        cursor.execute(f"""
            INSERT INTO {table} AS s (day, {_SB}, {_MB}, visits, product_views, searches,
              add_to_cart, checkouts, share_clicks, orders, buyers, gmv, referral_fees)
            SELECT %(day)s, referrer_bank_id, bank_id, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                   sum(referral_fee)
            FROM {items}
            WHERE created_at >= %(start)s AND created_at < %(end)s
              AND referrer_bank_id IS NOT NULL AND referral_fee <> 0
            GROUP BY referrer_bank_id, bank_id ORDER BY 2, 3
            ON CONFLICT ON CONSTRAINT fed_pairstat_once
            DO UPDATE SET referral_fees = EXCLUDED.referral_fees""", params)  # noqa: S608


def _locked_watermark(cursor) -> int:
    """Take the roll-up lock (held to the end of the transaction); the watermark."""
    cursor.execute(f"SET LOCAL search_path TO {get_public_schema_name()}")
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", ROLLUP_LOCK)
    table = _q(RollupWatermark._meta.db_table)
    cursor.execute(f"INSERT INTO {table} (name, last_event_id) VALUES ('events', 0) "  # noqa: S608
                   "ON CONFLICT (name) DO NOTHING")
    cursor.execute(f"SELECT last_event_id FROM {table} WHERE name = 'events' FOR UPDATE")  # noqa: S608
    return cursor.fetchone()[0]


def _committed_event_id() -> int:
    """The largest event id below which every event is committed: a SHARE lock on the
    table waits for the writes in progress (a COPY that took lower ids but has not
    committed yet) and is released at once; ids given out later are larger."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL search_path TO {get_public_schema_name()}")
        event = _q(Event._meta.db_table)
        cursor.execute(f"LOCK TABLE {event} IN SHARE MODE")
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {event}")  # noqa: S608
        return cursor.fetchone()[0]


def _states_add(cursor, *, replace: bool) -> None:
    """RollupState of the staged days: events counted (added, or replaced on a rebuild)."""
    table = _q(RollupState._meta.db_table)
    events = "EXCLUDED.events" if replace else "r.events + EXCLUDED.events"
    cursor.execute(f"""
        INSERT INTO {table} AS r (day, rolled_up_at, events)
        SELECT day, now(), sum(n_all) FROM fed_rollup_t GROUP BY day ORDER BY day
        ON CONFLICT (day) DO UPDATE SET rolled_up_at = EXCLUDED.rolled_up_at,
          events = {events}""")  # noqa: S608


def rollup_new_events(*, chunk: int = ROLLUP_CHUNK) -> int:
    """Count every committed event past the watermark into the roll-ups, ``chunk`` ids
    per transaction (each moves the watermark with the rows it adds). Returns the events
    counted; running it again counts nothing twice."""
    upto = _committed_event_id()
    counted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            low = _locked_watermark(cursor)
            if low >= upto:
                return counted
            high = min(upto, low + chunk)
            _stage(cursor, "id > %(low)s AND id <= %(high)s", {"low": low, "high": high},
                   counted_below=low)
            _apply_stage(cursor)
            _states_add(cursor, replace=False)
            cursor.execute("SELECT coalesce(sum(n_all), 0) FROM fed_rollup_t")
            counted += cursor.fetchone()[0]
            cursor.execute(f"UPDATE {_q(RollupWatermark._meta.db_table)} "  # noqa: S608
                           "SET last_event_id = %s, updated_at = now() WHERE name = 'events'",
                           [high])


def rollup_day(day: date) -> int:
    """Rebuild every roll-up of ``day`` from its raw events (and the referral fees
    settlement booked that day), after counting whatever is new; returns the day's
    events. Gives the rows the incremental roll-up gives; idempotent."""
    rollup_new_events()
    with transaction.atomic(), connection.cursor() as cursor:
        upto = _locked_watermark(cursor)
        _stage(cursor, "day = %(day)s AND id <= %(upto)s", {"day": day, "upto": upto},
               counted_below=None)
        _apply_stage(cursor, rebuild=day)
        _referral_fees(cursor, [day])
        cursor.execute("SELECT coalesce(sum(n_all), 0) FROM fed_rollup_t")
        events = cursor.fetchone()[0]
        RollupState.objects.update_or_create(
            day=day, defaults={"rolled_up_at": timezone.now(), "events": events})
    return events


def rollup_range(first: date, last: date) -> int:
    """Every day from ``first`` to ``last`` inclusive rebuilt, one transaction per day."""
    total, day = 0, first
    while day <= last:
        total += rollup_day(day)
        day += timedelta(days=1)
    return total


def rollup_recent(*, now: datetime | None = None) -> int:
    """The 15-minute task: the events that arrived since the last run counted, and the
    referral fees of yesterday and today (settlement) refreshed. Returns events counted."""
    counted = rollup_new_events()
    today = local_day(now or timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        _locked_watermark(cursor)
        _referral_fees(cursor, [today - timedelta(days=1), today])
    return counted


# --- retention ---------------------------------------------------------------------------


def retention_enforce(*, today: date | None = None, chunk_days: int = 7) -> dict[str, int]:
    """Delete what the data catalogue says is past its time: raw events by kind, roll-ups,
    the data-use log. Events go in slices of ``chunk_days`` days (short transactions)."""
    today = today or local_day(timezone.now())
    deleted: dict[str, int] = {}
    by_days: dict[int, list[str]] = {}
    for kind, days in catalogue.event_retention().items():
        by_days.setdefault(days, []).append(kind)
    for days, kinds in sorted(by_days.items()):
        cutoff = today - timedelta(days=days)
        oldest = Event.objects.filter(kind__in=kinds, day__lt=cutoff).order_by("day").values_list(
            "day", flat=True).first()
        count = 0
        while oldest is not None and oldest < cutoff:
            upto = min(cutoff, oldest + timedelta(days=chunk_days))
            with transaction.atomic():
                count += Event.objects.filter(kind__in=kinds, day__gte=oldest,
                                              day__lt=upto).delete()[0]
            oldest = upto
        for kind in kinds:
            deleted[f"event:{kind}"] = 0
        deleted[f"events:{days}d"] = count
    rollup_days = catalogue.BY_KEY["daily_rollups"].retention_days
    cutoff = today - timedelta(days=rollup_days)
    with transaction.atomic():
        with connection.cursor() as cursor:  # the roll-up's lock: product spans change
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", ROLLUP_LOCK)
        deleted["rollups"] = sum(model.objects.filter(day__lt=cutoff).delete()[0]
                                 for model in ROLLUP_MODELS)
        RollupState.objects.filter(day__lt=cutoff).delete()
    # a batch name is needed only until its in-flight list is gone (seconds)
    EventBatch.objects.filter(written_at__lt=timezone.now() - timedelta(days=7)).delete()
    log_days = catalogue.BY_KEY["data_use_log"].retention_days
    deleted["data_uses"] = DataUse.objects.filter(
        at__lt=day_bounds(today - timedelta(days=log_days))[0]).delete()[0]
    return {k: v for k, v in deleted.items() if not k.startswith("event:")}


# --- uses of personal behaviour data -----------------------------------------------------


def data_use_log(*, data_kind: str, purpose: str, bank=None, subject_user_id: int | None = None,
                 subject_merchant_id: int | None = None, used_by=None,
                 detail: str = "") -> DataUse:
    """Record one use of personal behaviour data; refused (ApplicationError) when the
    catalogue does not list the purpose for that data, or when a bank would use a
    person's data for credit without that person's consent to that bank."""
    from accounts.models import ConsentPurpose
    from accounts.selectors import has_consent

    if not catalogue.allows(data_kind, purpose):
        raise ApplicationError(_("The data catalogue does not allow this use of the data."),
                               code="not_in_catalogue")
    if purpose == catalogue.Purpose.CREDIT and subject_user_id is not None and (
            bank is None or not has_consent(user_id=subject_user_id,
                                            purpose=ConsentPurpose.CREDIT, bank_id=bank.pk)):
        raise ApplicationError(
            _("This person has not consented to this bank using their data for credit."),
            code="no_consent")
    return DataUse.objects.create(
        data_kind=data_kind, purpose=purpose, bank=bank, subject_user_id=subject_user_id,
        subject_merchant_id=subject_merchant_id,
        used_by_id=getattr(used_by, "pk", None), detail=detail[:200])


@dataclass(frozen=True)
class BehaviourSummary:
    days: int
    purchases: int
    orders: int
    spent: Decimal
    product_views: int
    active_days: int


def behaviour_for_credit(*, bank, user_id: int, used_by=None, days: int = 180) -> BehaviourSummary:
    """A person's recorded behaviour on the platform over ``days`` (only what was
    recorded under their account, i.e. with their BEHAVIOUR consent), for ``bank``'s
    credit scoring: allowed only with their CREDIT consent to that bank; logged."""
    from django.db.models import Count, Q, Sum

    data_use_log(data_kind="purchase_events", purpose=catalogue.Purpose.CREDIT, bank=bank,
                 subject_user_id=user_id, used_by=used_by,
                 detail=f"behaviour summary, {days} days")
    since = local_day(timezone.now()) - timedelta(days=days)
    figures = Event.objects.filter(user_id=user_id, day__gte=since).aggregate(
        purchases=Count("pk", filter=Q(kind=EventKind.PURCHASE)),
        orders=Count("order_id", distinct=True, filter=Q(kind=EventKind.PURCHASE)),
        spent=Sum("amount", filter=Q(kind=EventKind.PURCHASE)),
        product_views=Count("pk", filter=Q(kind=EventKind.PRODUCT_VIEW)),
        active_days=Count("day", distinct=True))
    return BehaviourSummary(days=days, purchases=figures["purchases"], orders=figures["orders"],
                            spent=figures["spent"] or Decimal("0.00"),
                            product_views=figures["product_views"],
                            active_days=figures["active_days"])
