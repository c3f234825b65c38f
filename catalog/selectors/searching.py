"""Search (the technique is described in catalog.search): the synonym dictionary, typo
candidates, the query plan and its matches, "did you mean", completions, and the
shopper's query checked.
"""

from __future__ import annotations

import contextlib
import hashlib
from functools import lru_cache

from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Length
from django.utils.translation import gettext as _

from banks.models import Bank
from catalog import search
from catalog.models import (
    Category,
    MerchantStatus,
    Product,
    ProductStatus,
    SuggestKey,
    SynonymGroup,
)
from catalog.search import suggest
from catalog.selectors._common import _cached
from catalog.selectors.storefront import _card_queryset, visible_products

SYNONYMS_CACHE_SECONDS = 60
# The dictionary's cache key: services clear it when the dictionary changes.
SYNONYMS_CACHE_KEY = "catalog:synonyms:v1"


@lru_cache(maxsize=8)
def _synonym_index(groups: tuple[tuple[str, ...], ...]) -> dict[str, tuple[str, ...]]:
    return search.synonym_index(groups)


def synonym_groups() -> list[SynonymGroup]:
    return list(SynonymGroup.objects.order_by("id"))


def synonyms() -> dict[str, tuple[str, ...]]:
    """The federation's synonym dictionary (word -> its group), read from the table and
    cached for SYNONYMS_CACHE_SECONDS; a change in the console clears the cache."""
    groups = None
    with contextlib.suppress(Exception):
        groups = caches["shared"].get(SYNONYMS_CACHE_KEY)
    if groups is None:
        groups = tuple(tuple(words) for words in
                       SynonymGroup.objects.order_by("id").values_list("words", flat=True))
        with contextlib.suppress(Exception):
            caches["shared"].set(SYNONYMS_CACHE_KEY, groups, SYNONYMS_CACHE_SECONDS)
    return _synonym_index(tuple(tuple(g) for g in groups))


def typo_terms(word: str, *, limit: int = 5) -> list[str]:
    """Indexed pinyin terms one edit away from ``word`` (or whose start is)."""
    with connection.cursor() as cur:
        # pg_trgm: similar as a whole, or similar to a part (its start); two index scans
        # (written with OR, the planner scans the whole vocabulary: 30 times slower)
        cur.execute("SELECT term FROM (SELECT term FROM catalog_searchterm WHERE term %% %s "
                    "UNION SELECT term FROM catalog_searchterm WHERE term %%> %s) t "
                    "ORDER BY similarity(term, %s) DESC, term LIMIT 50", [word, word, word])
        candidates = [row[0] for row in cur.fetchall()]
    found = []
    for term in candidates:
        if term.startswith(word):
            continue   # already an exact (prefix) match
        if (search.edit_distance_at_most_one(word, term)
                or search.edit_distance_at_most_one(word, term[:len(word)])):
            found.append(term)
    return found[:limit]


# How many matches the quick test of _any_visible_match reads before it looks further.
QUICK_MATCHES = 100


def _any_visible_match(tsquery: str) -> bool:
    """Whether a visible product matches ``tsquery``. The matches are read from the GIN
    index first (a materialized CTE): written as EXISTS, the planner walks the listing
    index in order and tests every product's vector when nothing matches (100 ms at
    100,000 products instead of 1). Only the first QUICK_MATCHES matches are read at
    first (a word with 12,000 matches cost as much as counting them, on every search);
    all of them only when none of those is visible."""
    sql = ("WITH m AS MATERIALIZED (SELECT merchant_id FROM catalog_product "
           "WHERE search_vector @@ %s::tsquery AND status = %s{limit}) "
           "SELECT (SELECT count(*) FROM m), EXISTS (SELECT 1 FROM m "
           "JOIN catalog_merchant me ON me.id = m.merchant_id "
           "JOIN banks_bank b ON b.id = me.bank_id WHERE me.status = %s AND b.is_active)")
    params = [tsquery, ProductStatus.LISTED, MerchantStatus.APPROVED]
    with connection.cursor() as cur:
        cur.execute(sql.format(limit=f" LIMIT {QUICK_MATCHES}"), params)
        read, found = cur.fetchone()
        if found or read < QUICK_MATCHES:
            return found
        cur.execute(sql.format(limit=""), params)
        return cur.fetchone()[1]


def _finds_anything(tsquery: str) -> bool:
    def compute():
        return _any_visible_match(tsquery)

    key = "catalog:finds:" + hashlib.sha1(tsquery.encode()).hexdigest()  # noqa: S324
    return _cached(key, compute)


def search_plan(q: str) -> search.QueryPlan | None:
    return search.build_plan(q, synonyms=synonyms(), typo_terms=typo_terms,
                             finds_anything=_finds_anything)


def _search(qs: QuerySet[Product], plan: search.QueryPlan, *,
            partial: bool = False) -> QuerySet[Product]:
    """Products matching the plan, annotated with ``tier`` (see catalog.search) and
    ``rank``. Partial: products matching any word, tier = how many words they match."""
    if partial:
        any_word = "(" + " | ".join(plan.word_queries) + ")"
        qs = qs.extra(where=["catalog_product.search_vector @@ %s::tsquery"], params=[any_word])
        # how many words it matches (the queries are parameters, never in the SQL text)
        tier = sum((Case(When(_matches(q), then=Value(1)), default=Value(0),
                         output_field=IntegerField()) for q in plan.word_queries),
                   Value(0, output_field=IntegerField()))
    else:
        qs = qs.extra(where=["catalog_product.search_vector @@ %s::tsquery"], params=[plan.match])
        tier = RawSQL(
            "CASE WHEN lower(catalog_product.name) = %s OR lower(catalog_product.name_en) = %s"
            " THEN 5"
            " WHEN catalog_product.search_vector @@ %s::tsquery"
            "  AND lower(catalog_product.name) LIKE %s THEN 4"
            " WHEN catalog_product.search_vector @@ %s::tsquery THEN 3"
            " WHEN catalog_product.search_vector @@ %s::tsquery THEN 2"
            " WHEN catalog_product.search_vector @@ %s::tsquery THEN 1 ELSE 0 END",
            [plan.text, plan.text, plan.name, search.like_contains(plan.text), plan.name,
             plan.own, plan.exact], output_field=IntegerField())
    return qs.annotate(tier=tier, rank=RawSQL(
        "ts_rank(catalog_product.search_vector, %s::tsquery)", [plan.match]))


def _matches(tsquery: str) -> Q:
    return Q(ExpressionWrapper(RawSQL("catalog_product.search_vector @@ %s::tsquery",
                                      [tsquery]), output_field=BooleanField()))


def popular_products(*, host_bank: Bank | None, limit: int = 8) -> list[Product]:
    """What to show on an empty result page: best sellers, the host bank's first."""
    qs = _card_queryset(visible_products())
    own = []
    if host_bank is not None:
        own = list(qs.filter(merchant__bank=host_bank).order_by("-sales_count", "-id")
                   [:limit // 2])
    rest = list(qs.exclude(pk__in=[p.pk for p in own]).order_by("-sales_count", "-id")
                [:limit - len(own)])
    return own + rest


def did_you_mean(plan: search.QueryPlan) -> str:
    """A corrected query that finds something, or "": each word that finds nothing on its
    own is replaced by the indexed term closest to its pinyin."""
    corrected, changed = [], False
    for word, word_query in zip(plan.words, plan.word_queries, strict=True):
        if _any_visible_match(word_query):
            corrected.append(word)
            continue
        key = search.full_pinyin(word) if search.CJK.fullmatch(word) else word
        with connection.cursor() as cur:
            cur.execute("SELECT term, display FROM catalog_searchterm WHERE term %% %s "
                        "ORDER BY similarity(term, %s) DESC, length(term), term LIMIT 5",
                        [key, key])
            rows = cur.fetchall()
        # near in spelling and in length (榴莲 liulian is not 粮 liang)
        near = [display for term, display in rows
                if min(len(term), len(key)) / max(len(term), len(key)) >= 0.75
                and display != word]
        if near:
            corrected.append(near[0])
            changed = True
        else:
            corrected.append(word)
    if not changed:
        return ""
    text = " ".join(corrected)
    fixed = search_plan(text)
    if fixed is None or not _any_visible_match(fixed.match):
        return ""
    return text


def search_suggestions(q: str, *, host_bank: Bank | None = None, limit: int = 8) -> list[dict]:
    """Completions of what a shopper is typing (characters or pinyin): category names,
    dictionary words and names of products it finds, best first."""
    text = search.normalize_query(clean_query(q))
    if not text:
        return []

    def compute():
        out: list[dict] = []
        compact = text.replace(" ", "")
        for cat in Category.objects.order_by("position", "slug"):
            names = [cat.name, cat.name_en, *search.split_aliases(cat.aliases)]
            keys = [search.normalize_text(n).replace(" ", "") for n in names if n]
            keys += [search.full_pinyin(k) for k in keys if search.CJK.search(k)]
            if any(k.startswith(compact) for k in keys):
                out.append({"text": cat.name, "kind": "category", "slug": cat.slug})
        for word in synonyms():
            if word.startswith(compact) or (search.CJK.fullmatch(word) and len(compact) >= 2
                                            and search.full_pinyin(word).startswith(compact)):
                out.append({"text": word, "kind": "term"})
        names = _suggested_names(text, host_bank=host_bank, limit=limit)
        if len(names) < limit:
            # Too few names contain it from a boundary on: the ranked search finds the
            # rest (synonyms, aliases, words apart: 罗汉果 礼盒).
            plan = search.build_plan(text, synonyms=synonyms())
            if plan is not None:
                starts = RawSQL("lower(catalog_product.name) LIKE %s",
                                [search.like_contains(text)[1:]],
                                output_field=BooleanField())
                names += (_search(visible_products(), plan).filter(tier__gte=1)
                          .annotate(starts=starts, length=Length("name"))
                          .order_by("-tier", "-starts", "length", "-sales_count", "-id")
                          .values_list("name", flat=True)[:limit * 4])
        out += [{"text": n, "kind": "product"} for n in names]
        seen, unique = set(), []
        for item in out:
            if item["text"] not in seen:
                seen.add(item["text"])
                unique.append(item)
        return unique[:limit]

    raw = f"{text}|{host_bank.pk if host_bank is not None else ''}"
    key = "catalog:suggest:" + hashlib.sha1(raw.encode()).hexdigest()  # noqa: S324
    return _cached(key, compute)


def _suggested_names(text: str, *, host_bank: Bank | None, limit: int) -> list[str]:
    """Names of visible products that contain what is typed from a boundary on (a
    character, a word, a pinyin syllable: catalog.search.suggest): the host bank's first,
    then best sellers, then those that begin with it. One range scan of the keys' B-tree
    (index only: the ranking columns are in the index), then the few best by id."""
    typed = suggest.typed_key(text)
    if not typed:
        return []
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT product_id FROM {SuggestKey._meta.db_table} WHERE key LIKE %s "  # noqa: S608
            "ORDER BY bank_id = %s DESC, sales_count DESC, at_start DESC, product_id DESC "
            "LIMIT %s", [search.like_contains(typed)[1:], host_bank.pk if host_bank else 0,
                         limit * 8])
        ids = list(dict.fromkeys(row[0] for row in cur.fetchall()))
    visible = dict(visible_products().filter(pk__in=ids).values_list("pk", "name"))
    return list(dict.fromkeys(visible[pk] for pk in ids if pk in visible))[:limit]


def clean_query(q) -> str:
    """The shopper's query, stripped; a query longer than the search box allows is refused
    with a message (ValidationError on ``q``), never cut silently."""
    try:
        return search.check_query_length(q if isinstance(q, str) else "")
    except search.QueryTooLong:
        raise ValidationError({"q": [
            _("Search words are limited to %(n)d characters; shorten the query.")
            % {"n": search.max_query_length()}]}) from None
