"""A shopper's query as tsqueries: the query plan (see catalog.search)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from catalog.search.synonyms import SYNONYM_GROUPS, Synonyms, synonym_index
from catalog.search.text import ASCII_WORD, CJK, OWN, _unique, query_words
from catalog.search.tokens import full_pinyin

# --- queries ------------------------------------------------------------------------------

def _lexeme(token: str) -> str:
    return "'" + token.replace("'", "").replace("\\", "") + "'"


def _cjk_phrase(word: str, weights: str) -> str:
    if len(word) == 1:
        return f"{_lexeme(word)}:{weights}"
    pairs = [word[i:i + 2] for i in range(len(word) - 1)]
    return "(" + " <-> ".join(f"{_lexeme(p)}:{weights}" for p in pairs) + ")"


def _or(parts: list[str]) -> str:
    parts = _unique(parts)
    return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"


def _and(parts: list[str]) -> str:
    parts = _unique(parts)
    return parts[0] if len(parts) == 1 else "(" + " & ".join(parts) + ")"


def _pinyin_synonyms(word: str, synonyms: Synonyms) -> list[str]:
    """Dictionary words whose full pinyin is the ASCII ``word`` (or starts with it, for
    four letters or more)."""
    found = []
    for dict_word in synonyms:
        if not CJK.fullmatch(dict_word):
            continue
        py = full_pinyin(dict_word)
        if py == word or (len(word) >= 4 and py.startswith(word)):
            found.extend(synonyms[dict_word])
    return _unique(found)


def _word_query(word: str, weights: str) -> str | None:
    """A word as typed: a Chinese run is the phrase of its pairs, an ASCII run a prefix."""
    if CJK.fullmatch(word):
        return _cjk_phrase(word, weights)
    pieces = [_cjk_phrase(run, weights) for run in CJK.findall(word)]
    pieces += [f"{_lexeme(token)}:*{weights}" for token in ASCII_WORD.findall(word)]
    return _and(pieces) if pieces else None


def own_query(word: str, synonyms: Synonyms, weights: str = OWN) -> str | None:
    """The word in the product's own fields (name, aliases, specs, subtitle), or one of its
    synonyms."""
    typed = _word_query(word, weights)
    if typed is None:
        return None
    alternatives = [typed] + [_word_query(alt, weights) for alt in synonyms.get(word, ())
                              if alt != word]
    if ASCII_WORD.fullmatch(word):
        if len(word) >= 4 and word.endswith("s") and word.isalpha():
            alternatives.append(f"{_lexeme(word[:-1])}:*{weights}")   # apples -> apple
        alternatives += [_cjk_phrase(s, weights)
                         for s in _pinyin_synonyms(word, synonyms) if CJK.fullmatch(s)]
    return _or([a for a in alternatives if a])


def whole_query(word: str, synonyms: Synonyms) -> str | None:
    """The word as the whole name of a category, origin or shop (weight D)."""
    alternatives = [a for a in _unique([word, *synonyms.get(word, ())])
                    if CJK.fullmatch(a) or ASCII_WORD.fullmatch(a)]
    return _or([f"{_lexeme(a)}:D" for a in alternatives]) if alternatives else None


def fuzzy_query(word: str, typo_terms: Callable[[str], list[str]] | None) -> str | None:
    """Typo alternatives of a word: same pinyin (Chinese), one edit away (pinyin)."""
    parts: list[str] = []
    if CJK.fullmatch(word) and len(word) >= 2:
        py = full_pinyin(word)
        if py:
            parts.append(f"{_lexeme(py)}:*AB")
    elif ASCII_WORD.fullmatch(word) and word.isalpha() and len(word) >= 4 and typo_terms:
        parts += [f"{_lexeme(t)}:AB" for t in typo_terms(word)]
    return _or(parts) if parts else None


@dataclass
class QueryPlan:
    """Every tsquery a search needs, built once from the shopper's query."""

    text: str                       # the normalised query
    words: list[str]
    word_queries: list[str]         # per word: exact or typo (partial matches)
    match: str                      # every word, exact or typo: what is found
    exact: str                      # every word, own fields or whole names
    own: str                        # every word in the product's own fields
    name: str                       # every word in the name (A)


def build_plan(query: str | None, *, synonyms: Synonyms | None = None,
               typo_terms: Callable[[str], list[str]] | None = None,
               finds_anything: Callable[[str], bool] | None = None) -> QueryPlan | None:
    """The plan for a shopper's query, or None when it has nothing to search for.

    Typo alternatives are added to a word only when ``finds_anything(its exact tsquery)``
    is false (a word that finds products as typed is taken as meant: 梨子 must not bring
    李子, lizi); without ``finds_anything`` never."""
    synonyms = synonyms if synonyms is not None else synonym_index(SYNONYM_GROUPS)
    words, per_word, exact, own, name = [], [], [], [], []
    for word in query_words(query):
        own_q = own_query(word, synonyms)
        if own_q is None:
            continue
        whole_q = whole_query(word, synonyms)
        exact_q = _or([own_q, whole_q]) if whole_q else own_q
        fuzzy_q = None
        if finds_anything is not None and not finds_anything(exact_q):
            fuzzy_q = fuzzy_query(word, typo_terms)
        words.append(word)
        per_word.append(_or([exact_q, fuzzy_q]) if fuzzy_q else exact_q)
        exact.append(exact_q)
        own.append(own_q)
        name.append(own_query(word, synonyms, "A"))
    if not words:
        return None
    return QueryPlan(text=" ".join(words), words=words, word_queries=per_word,
                     match=_and(per_word), exact=_and(exact), own=_and(own), name=_and(name))


def build_tsquery(query: str | None, *, synonyms: Synonyms | None = None) -> str | None:
    """The tsquery of what a query finds (typo alternatives aside)."""
    plan = build_plan(query, synonyms=synonyms)
    return plan.exact if plan else None


def like_contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def edit_distance_at_most_one(a: str, b: str) -> bool:
    """True when ``b`` is ``a`` with at most one letter changed, added, removed, or two
    adjacent letters swapped."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1:] == b[i + 1:]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2:] == b[i + 2:]
    if la > lb:
        return a[i + 1:] == b[i:]
    return a[i:] == b[i + 1:]
