"""The search index: a product's search vector and its names' terms in the vocabulary
(the technique is described in catalog.search).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from psycopg2.extras import execute_values

from catalog import search
from catalog.models import Product, SearchTerm, SuggestKey
from catalog.search import suggest


def _search_document(p: Product) -> search.Document:
    category = p.category
    wholes = []
    for cat in (category, category.parent):
        if cat is not None:
            wholes += [cat.name, cat.name_en, *search.split_aliases(cat.aliases)]
    wholes += [p.origin_province, p.origin_county, p.origin_township, p.merchant.name]
    return search.Document(
        name=p.name, name_en=p.name_en, aliases=search.split_aliases(p.aliases),
        specs=[s.spec for s in p.skus.all()], subtitle=p.subtitle, gi_label=p.gi_label,
        wholes=[w for w in wholes if w],
        places=[w for w in (p.origin_province, p.origin_county, p.origin_township) if w])


def suggest_keys(p: Product) -> list[str]:
    """The keys a shopper may type the start of for this product (see ``SuggestKey``)."""
    return list(suggest.product_keys(p.name, p.name_en, p.aliases))


def product_reindex(*, product_ids: Iterable[int]) -> int:
    """Rebuild the search vector and the suggestion keys of these products and add their
    names' terms to the vocabulary (see catalog.search)."""
    ids = list(product_ids)
    products = (Product.objects.filter(pk__in=ids)
                .select_related("category__parent", "merchant").prefetch_related("skus"))
    rows, terms, keys = [], {}, []
    for p in products:
        doc = _search_document(p)
        rows.append((search.document_vector(doc), search.document_text(doc), p.pk))
        terms.update(search.vocabulary_terms(doc))
        keys += [(p.pk, key, p.merchant.bank_id, p.sales_count, at_start) for key, at_start
                 in suggest.product_keys(p.name, p.name_en, p.aliases).items()]
    table = SuggestKey._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE product_id = ANY(%s)", [ids])  # noqa: S608
        if keys:
            # one statement per 5,000 keys (about 23 a product), not one per key
            execute_values(cur.cursor, f"INSERT INTO {table} "  # noqa: S608
                           "(product_id, key, bank_id, sales_count, at_start) VALUES %s",
                           keys, page_size=5000)
        if rows:
            cur.executemany("UPDATE catalog_product SET search_vector = %s::tsvector, "
                            "search_text = %s WHERE id = %s", rows)
    if terms:
        SearchTerm.objects.bulk_create(
            [SearchTerm(term=t[:120], display=d[:120]) for t, d in sorted(terms.items())],
            ignore_conflicts=True)
    return len(rows)
