"""A search's page, count and facets in one statement over its matches.

A storefront search shows a page of products, how many there are, and four facets (root
category, origin, bank, price band), each counted with every filter but its own. Written
as six queries, each one evaluates the search's ``tsquery`` again: a bitmap scan of the
GIN index and a recheck of every candidate's vector on the heap (phrases need positions,
which the index does not keep). Here the matches are found once, into a materialized CTE
that carries each filter as a boolean column; the count, the page's ids and the facets
are aggregates over it. Figures: bench/README.md, "Search".

The caller (``catalog.selectors.storefront_listing``) builds the matches as a queryset
(``values`` of the columns named in ``COLUMNS`` plus one ``f_<filter>`` boolean per
active filter); this module only writes the SQL around it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet

from banks.models import Bank
from catalog.models import Category

# the columns the matches must carry (besides the f_<filter> flags)
COLUMNS = ("id", "category_id", "origin_county", "price_from", "bank_id", "sales_count",
           "listed_at", "rating_avg", "rating_count", "tier", "home", "rank")
ORIGINS_SHOWN = 12


@dataclass
class Pass:
    total: int
    page: int
    pages: int
    ids: list[int]
    tiers: list[int]      # each page product's relevance tier (catalog.search), same order
    facets: dict[str, list[dict]] = field(default_factory=dict)


def _where(flags: list[str], but: str = "") -> str:
    parts = [f"f_{name}" for name in flags if name != but]
    return " AND ".join(parts) if parts else "TRUE"


def _order_sql(order: list[str]) -> str:
    out = []
    for key in order:
        column = key.lstrip("-")
        if column not in COLUMNS:
            raise ValueError(f"cannot order matches by {key!r}")
        out.append(f"{column} DESC" if key.startswith("-") else column)
    return ", ".join(out)


def page_count_facets(matches: QuerySet, *, flags: list[str], order: list[str], page: int,
                      per_page: int, price_bands: list[tuple[str, Decimal | None,
                                                             Decimal | None]] | None
                      ) -> Pass:
    """The requested page (clamped to the last one) of the matches passing every filter,
    their count, and (``price_bands`` given) the facets, in one statement."""
    inner, inner_params = matches.query.sql_with_params()
    everything = _where(flags)
    params: list = list(inner_params)
    facet_sql = "NULL, NULL, NULL, NULL"
    facet_params: list = []
    if price_bands is not None:
        category, parent, bank = (Category._meta.db_table, Category._meta.db_table,
                                  Bank._meta.db_table)
        bands = []
        for _key, low, high in price_bands:
            cond = "price_from >= %s" + (" AND price_from < %s" if high is not None else "")
            bands.append(f"count(*) FILTER (WHERE {cond})")
            facet_params += [low] + ([high] if high is not None else [])
        # identifiers are the code's own (tables, filter names); values are parameters
        facet_sql = f"""
            (SELECT coalesce(json_agg(json_build_array(
                        coalesce(pc.slug, c.slug), coalesce(pc.name, c.name), x.n)), '[]')
               FROM (SELECT category_id, count(*) AS n FROM hits
                      WHERE {_where(flags, "category")} GROUP BY category_id) x
               JOIN {category} c ON c.id = x.category_id
               LEFT JOIN {parent} pc ON pc.id = c.parent_id),
            (SELECT coalesce(json_agg(json_build_array(x.origin_county, x.n)
                                      ORDER BY x.n DESC, x.origin_county), '[]')
               FROM (SELECT origin_county, count(*) AS n FROM hits
                      WHERE {_where(flags, "origin")} GROUP BY origin_county
                      ORDER BY n DESC, origin_county LIMIT {ORIGINS_SHOWN}) x),
            (SELECT coalesce(json_agg(json_build_array(
                        b.code, coalesce(nullif(b.short_name, ''), b.name), x.n)
                        ORDER BY x.n DESC, b.code), '[]')
               FROM (SELECT bank_id, count(*) AS n FROM hits
                      WHERE {_where(flags, "bank")} GROUP BY bank_id) x
               JOIN {bank} b ON b.id = x.bank_id),
            (SELECT json_build_array({", ".join(bands)}) FROM hits
              WHERE {_where(flags, "price")})"""  # noqa: S608
    sql = f"""
        WITH hits AS MATERIALIZED ({inner}),
             total AS (SELECT count(*) AS n FROM hits WHERE {everything}),
             at AS (SELECT n, LEAST(%s, GREATEST(1, (n + %s - 1) / %s)) AS page FROM total)
        SELECT (SELECT n FROM at), (SELECT page FROM at),
               ARRAY(SELECT ARRAY[id, tier] FROM hits WHERE {everything}
                     ORDER BY {_order_sql(order)}
                     LIMIT %s OFFSET (SELECT (page - 1) * %s FROM at)),
               {facet_sql}"""  # noqa: S608
    params += [page, per_page, per_page, per_page, per_page] + facet_params
    with connection.cursor() as cur:
        cur.execute(sql, params)
        total, page_no, rows, categories, origins, banks, prices = cur.fetchone()
    pages = max(1, (total + per_page - 1) // per_page)
    result = Pass(total=total, page=page_no, pages=pages, ids=[row[0] for row in rows],
                  tiers=[row[1] for row in rows])
    if price_bands is not None:
        result.facets = _facets(categories, origins, banks, prices, price_bands)
    return result


def _loads(value):
    return json.loads(value) if isinstance(value, str) else value


def _facets(categories, origins, banks, prices, price_bands) -> dict[str, list[dict]]:
    by_root: dict[str, dict] = {}
    for slug, name, n in _loads(categories):
        entry = by_root.setdefault(slug, {"slug": slug, "name": name, "count": 0})
        entry["count"] += n
    prices = _loads(prices)
    return {
        "category": sorted(by_root.values(), key=lambda e: (-e["count"], e["slug"])),
        "origin": [{"value": value, "count": n} for value, n in _loads(origins)],
        "bank": [{"value": code, "name": name, "count": n} for code, name, n in _loads(banks)],
        "price": [{"value": key, "count": n}
                  for (key, _low, _high), n in zip(price_bands, prices, strict=True) if n],
    }
