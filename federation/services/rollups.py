"""The daily roll-ups (``Daily*Stat``) of the traffic events.

Two ways to the same rows. ``rollup_recent`` (every 15 minutes) counts only the events
past the watermark (``RollupWatermark``): their plain counts and sums are added to the
day rows (``INSERT ... ON CONFLICT DO UPDATE`` adding), and each distinct count
(orders, checkouts, buyers per group and day) grows by the members that no event
counted before had: the raw events already rolled up are the set, asked through small
partial indexes (purchases by order and by buyer, checkouts by checkout). The watermark
moves in the same transaction. ``rollup_day`` rebuilds one day from all its events up
to the watermark with the same statements (nothing counted before: no question asked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from federation.models import (
    DailyCategoryStat,
    DailyMerchantStat,
    DailyPairStat,
    DailyProductStat,
    DailyRegionStat,
    DailySegmentStat,
    Event,
    RollupState,
    RollupWatermark,
)
from federation.services._common import day_bounds, local_day
from payments.models import SettlementItem

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


def _sort_memory(cursor) -> None:
    """The distinct counts sort every staged event; with the server's default work_mem
    (4MB) those sorts spill to disk. Raised for this transaction only."""
    cursor.execute("SELECT set_config('work_mem', %s, true)",
                   [settings.TRAFFIC_ROLLUP_WORK_MEM])


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
            _sort_memory(cursor)
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
        _sort_memory(cursor)
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
