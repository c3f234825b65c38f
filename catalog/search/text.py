"""Normalisation of indexed text and of queries (see catalog.search)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import opencc
from django.conf import settings

MAX_WORDS = 8

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
ASCII_WORD = re.compile(r"[a-z0-9]+")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ADMIN_SUFFIX = re.compile(r"(自治县|自治州|县|市|区|镇|乡|旗|州|省)$")
# Weights of the product's own fields: A name, B aliases and specs, C subtitle.
OWN = "ABC"


class QueryTooLong(ValueError):
    """The shopper's query is longer than max_query_length() characters."""


def max_query_length() -> int:
    """settings.SEARCH_MAX_QUERY_LENGTH: also the search box's maxlength."""
    return getattr(settings, "SEARCH_MAX_QUERY_LENGTH", 60)


# --- normalisation ----------------------------------------------------------------------

@lru_cache(maxsize=1)
def _t2s():
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text) if text else text


def _punctuation_to_space(text: str) -> str:
    return "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text)


def normalize_text(text: str | None) -> str:
    """Indexed and searched text alike: NFKC, simplified, lower case, punctuation and control
    characters as spaces, single spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    text = CONTROL.sub(" ", text)
    text = to_simplified(text).lower()
    return " ".join(_punctuation_to_space(text).split())


def normalize_query(query: str | None) -> str:
    """The query as it is searched (see normalize_text)."""
    return normalize_text(query)


def check_query_length(query: str | None) -> str:
    """The query, stripped; QueryTooLong when it is longer than max_query_length()."""
    query = (query or "").strip()
    if len(query) > max_query_length():
        raise QueryTooLong(query)
    return query


def query_words(query: str | None) -> list[str]:
    return normalize_query(query).split()[:MAX_WORDS]



def _unique(tokens: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(t for t in tokens if t))
