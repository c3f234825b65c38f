"""Writes of the federation's traffic data: moving buffered events into the table,
the daily roll-ups, retention, and the log of uses of personal behaviour data.

- ``events_flush``: the Redis buffer (``federation.recorder``) into ``Event``, one COPY
  per batch. At least once: a batch is moved to an in-flight list before it is written
  and removed after the commit, so a crash in between re-writes that batch on the next
  flush (never loses it); a lock keeps flushes from overlapping.
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
from dataclasses import dataclass
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
    EventKind,
    RollupState,
)

log = logging.getLogger(__name__)

INFLIGHT_KEY = "fed:events:inflight"
LOCK_KEY = "fed:events:flush-lock"
LOCK_SECONDS = 120

# Moves up to ARGV[1] events from the buffer to the in-flight list, atomically.
_TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  for i = 1, #items, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
  end
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
            if not lines:
                lines = take(keys=[recorder.BUFFER_KEY, INFLIGHT_KEY], args=[batch_size])
            if not lines:
                break
            rows, rejected = resolve(lines)
            write_events(rows)
            redis.delete(INFLIGHT_KEY)
            result.events += len(rows)
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

_BUYER = "coalesce(nullif(session_hash, ''), 'u' || user_id::text)"

_ROLLUPS = (
    (DailyPairStat,
     ("storefront_bank_id", "merchant_bank_id", "visits", "product_views", "searches",
      "add_to_cart", "checkouts", "share_clicks", "orders", "buyers", "gmv",
      "referral_fees"),
     f"""
     SELECT sb, mb, sum(visits), sum(product_views), sum(searches), sum(add_to_cart),
            sum(checkouts), sum(share_clicks), sum(orders), sum(buyers), sum(gmv),
            sum(fees)
     FROM (
       SELECT storefront_bank_id AS sb, merchant_bank_id AS mb,
         count(*) FILTER (WHERE kind = 'visit') AS visits,
         count(*) FILTER (WHERE kind = 'product_view') AS product_views,
         count(*) FILTER (WHERE kind = 'search') AS searches,
         count(*) FILTER (WHERE kind = 'add_to_cart') AS add_to_cart,
         count(DISTINCT checkout_id) FILTER (WHERE kind = 'checkout') AS checkouts,
         count(*) FILTER (WHERE kind = 'share_click') AS share_clicks,
         count(DISTINCT order_id) FILTER (WHERE kind = 'purchase') AS orders,
         count(DISTINCT {_BUYER}) FILTER (WHERE kind = 'purchase') AS buyers,
         coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0) AS gmv,
         0::numeric AS fees
       FROM {{event}} WHERE day = %(day)s GROUP BY 1, 2
       UNION ALL
       SELECT referrer_bank_id, bank_id, 0, 0, 0, 0, 0, 0, 0, 0, 0, sum(referral_fee)
       FROM {{settlement_item}}
       WHERE created_at >= %(start)s AND created_at < %(end)s
         AND referrer_bank_id IS NOT NULL AND referral_fee <> 0
       GROUP BY 1, 2
     ) AS t GROUP BY sb, mb"""),  # noqa: S608 - table names from the models
    (DailyMerchantStat,
     ("merchant_id", "storefront_bank_id", "merchant_bank_id", "product_views",
      "add_to_cart", "orders", "gmv"),
     """
     SELECT merchant_id, storefront_bank_id, max(merchant_bank_id),
       count(*) FILTER (WHERE kind = 'product_view'),
       count(*) FILTER (WHERE kind = 'add_to_cart'),
       count(DISTINCT order_id) FILTER (WHERE kind = 'purchase'),
       coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0)
     FROM {event}
     WHERE day = %(day)s AND merchant_id IS NOT NULL
       AND kind IN ('product_view', 'add_to_cart', 'purchase')
     GROUP BY 1, 2"""),
    (DailyCategoryStat,
     ("category_id", "storefront_bank_id", "merchant_bank_id", "product_views", "orders",
      "gmv"),
     """
     SELECT category_id, storefront_bank_id, merchant_bank_id,
       count(*) FILTER (WHERE kind = 'product_view'),
       count(DISTINCT order_id) FILTER (WHERE kind = 'purchase'),
       coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0)
     FROM {event}
     WHERE day = %(day)s AND product_id IS NOT NULL AND kind IN ('product_view', 'purchase')
     GROUP BY 1, 2, 3"""),
    (DailyRegionStat,
     ("region", "storefront_bank_id", "merchant_bank_id", "product_views", "orders", "gmv"),
     """
     SELECT region, storefront_bank_id, merchant_bank_id,
       count(*) FILTER (WHERE kind = 'product_view'),
       count(DISTINCT order_id) FILTER (WHERE kind = 'purchase'),
       coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0)
     FROM {event}
     WHERE day = %(day)s AND product_id IS NOT NULL AND kind IN ('product_view', 'purchase')
     GROUP BY 1, 2, 3"""),
    (DailySegmentStat,
     ("storefront_bank_id", "segment", "buyers", "orders", "gmv"),
     f"""
     SELECT storefront_bank_id, segment, count(DISTINCT {_BUYER}),
       count(DISTINCT order_id), coalesce(sum(amount), 0)
     FROM {{event}}
     WHERE day = %(day)s AND kind = 'purchase'
     GROUP BY 1, 2"""),  # noqa: S608 - table names from the models
    (DailyProductStat,
     ("product_id", "storefront_bank_id", "merchant_id", "merchant_bank_id", "views",
      "orders", "quantity", "gmv"),
     """
     SELECT product_id, storefront_bank_id, max(merchant_id), max(merchant_bank_id),
       count(*) FILTER (WHERE kind = 'product_view'),
       count(DISTINCT order_id) FILTER (WHERE kind = 'purchase'),
       coalesce(sum(quantity) FILTER (WHERE kind = 'purchase'), 0),
       coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0)
     FROM {event}
     WHERE day = %(day)s AND product_id IS NOT NULL AND kind IN ('product_view', 'purchase')
     GROUP BY 1, 2"""),
)

ROLLUP_MODELS = tuple(model for model, _c, _s in _ROLLUPS)


def rollup_day(day: date) -> int:
    """Recompute every roll-up of ``day`` from the events; returns the events counted."""
    from payments.models import SettlementItem

    start, end = day_bounds(day)
    tables = {"event": connection.ops.quote_name(Event._meta.db_table),
              "settlement_item": connection.ops.quote_name(SettlementItem._meta.db_table)}
    params = {"day": day, "start": start, "end": end}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL search_path TO {get_public_schema_name()}")
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7007, day.toordinal()])
        for model, columns, select in _ROLLUPS:
            table = connection.ops.quote_name(model._meta.db_table)
            # table and column names come from the models, values are parameters
            cursor.execute(f"DELETE FROM {table} WHERE day = %(day)s", params)  # noqa: S608
            sql = "INSERT INTO {} (day, {}) SELECT %(day)s, * FROM ({}) AS r".format(  # noqa: S608
                table, ", ".join(columns), select.format(**tables))
            cursor.execute(sql, params)
        cursor.execute(f"SELECT count(*) FROM {tables['event']} WHERE day = %(day)s",  # noqa: S608
                       params)
        events = cursor.fetchone()[0]
        RollupState.objects.update_or_create(
            day=day, defaults={"rolled_up_at": timezone.now(), "events": events})
    return events


def rollup_range(first: date, last: date) -> int:
    """Every day from ``first`` to ``last`` inclusive, one transaction per day."""
    total, day = 0, first
    while day <= last:
        total += rollup_day(day)
        day += timedelta(days=1)
    return total


def rollup_recent(*, now: datetime | None = None) -> int:
    """Today and yesterday (late events and yesterday's settlement fees)."""
    today = local_day(now or timezone.now())
    return rollup_range(today - timedelta(days=1), today)


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
        deleted["rollups"] = sum(model.objects.filter(day__lt=cutoff).delete()[0]
                                 for model in ROLLUP_MODELS)
        RollupState.objects.filter(day__lt=cutoff).delete()
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
