"""The search index: a product's search vector and its names' terms in the vocabulary
(the technique is described in catalog.search).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from pypinyin import lazy_pinyin

from catalog import search
from catalog.models import Product, SearchTerm, SuggestKey


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
    """The beginnings a shopper may type for this product (see ``SuggestKey``)."""
    keys: list[str] = []
    for name in (p.name, p.name_en, *search.split_aliases(p.aliases)):
        norm = search.normalize_text(name).replace(" ", "")
        if not norm:
            continue
        keys.append(norm)
        if search.CJK.search(norm):
            syllables = [s for s in lazy_pinyin(norm) if s.isalpha()]
            keys += ["".join(syllables), "".join(s[0] for s in syllables)]
    return [k[:120] for k in dict.fromkeys(k for k in keys if k)]


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
        keys += [SuggestKey(product_id=p.pk, key=k) for k in suggest_keys(p)]
    SuggestKey.objects.filter(product_id__in=ids).delete()
    SuggestKey.objects.bulk_create(keys, ignore_conflicts=True, batch_size=5000)
    if rows:
        with connection.cursor() as cur:
            cur.executemany("UPDATE catalog_product SET search_vector = %s::tsvector, "
                            "search_text = %s WHERE id = %s", rows)
    if terms:
        SearchTerm.objects.bulk_create(
            [SearchTerm(term=t[:120], display=d[:120]) for t, d in sorted(terms.items())],
            ignore_conflicts=True)
    return len(rows)
