"""The search index: a product's search vector and its names' terms in the vocabulary
(the technique is described in catalog.search).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from catalog import search
from catalog.models import Product, SearchTerm


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


def product_reindex(*, product_ids: Iterable[int]) -> int:
    """Rebuild the search vector of these products and add their names' terms to the
    vocabulary (see catalog.search)."""
    products = (Product.objects.filter(pk__in=list(product_ids))
                .select_related("category__parent", "merchant").prefetch_related("skus"))
    rows, terms = [], {}
    for p in products:
        doc = _search_document(p)
        rows.append((search.document_vector(doc), search.document_text(doc), p.pk))
        terms.update(search.vocabulary_terms(doc))
    if rows:
        with connection.cursor() as cur:
            cur.executemany("UPDATE catalog_product SET search_vector = %s::tsvector, "
                            "search_text = %s WHERE id = %s", rows)
    if terms:
        SearchTerm.objects.bulk_create(
            [SearchTerm(term=t[:120], display=d[:120]) for t, d in sorted(terms.items())],
            ignore_conflicts=True)
    return len(rows)
