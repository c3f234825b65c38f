"""Search that works for Chinese: how products are indexed and queries are understood.

Technique (figures in bench/README.md, section "Search"; the rules for shoppers in
docs/architecture.md, "Product search"):

* **One normalisation** (``normalize_query``) for every entry point (storefront page, API,
  suggestions) and for the indexed text: NFKC (full-width ＬＨＧ and ２５ become lhg and 25),
  traditional to simplified characters (OpenCC ``t2s``), lower case, punctuation and
  control characters to spaces, runs of spaces to one. A query longer than
  ``settings.SEARCH_MAX_QUERY_LENGTH`` characters is refused (``QueryTooLong``), not cut.
* **Fields and weights.** Each listed product gets a PostgreSQL ``tsvector`` (GIN index) of
  tokens made here, not by PostgreSQL's parser (which does not segment Chinese). Every
  token has a position and a weight, so the weights really are stored (a lexeme without a
  position cannot carry one):
  - A: the product's name and English name (the characters of its origin's name inside
    the name, 茶陵 in 茶陵紫薯, weigh C: they name the place, not the produce);
  - B: its aliases and the specifications of its SKUs;
  - C: its subtitle and geographical-indication label;
  - D: the names, as a whole, of its category (and parent category, their English names
    and aliases), of its origin (province, county, township; "茶陵县" also as "茶陵") and
    of its shop, with their full pinyin.
  In A, B and C every CJK character and every pair of adjacent characters is a token, the
  pairs at consecutive positions, so a word of two or more characters is the *phrase* of
  its pairs (罗汉果 -> 罗汉 <-> 汉果 finds 香港罗汉果 but not a name with 罗汉 and 汉果
  apart); a single character is its unigram. Names and aliases also carry their pinyin:
  the whole syllable string from each syllable on (xianggangluohanguo, luohanguo, ...) and
  the same for the initials (xglhg, lhg, ...), matched by prefix. ASCII words as they are.
* **A word matches a product** when it matches the product's own fields (A, B or C), or
  when it *is* the whole name of its category, origin or shop (D). So 茶 does not bring a
  county named 茶陵县, 罗汉果 does not bring the other goods of a co-operative whose name
  contains it, and 苹果 does not bring pears filed under a category "苹果梨"; 茶陵 or
  水果 typed as such do select that county or category. Words are AND-ed.
* **Synonyms** come from the federation's dictionary (``catalog.SynonymGroup``), applied
  at query time only (a change works at once, without re-indexing): a Chinese word is
  expanded with its group (土豆 = 马铃薯 = 洋芋); an ASCII word that is (the start of, for
  four letters or more) the full pinyin of a dictionary word is expanded with that word's
  group (malingshu -> 马铃薯, 土豆, ...).
* **Typos**, for a word that finds nothing as typed (a word that finds products is taken
  as meant: 梨子 must not bring 李子, both "lizi"): a Chinese word of two or more
  characters then matches names with the same pinyin (罗汉国 finds 罗汉果); an ASCII word
  of four letters or more matches indexed pinyin tokens one edit away (a letter wrong,
  missing, extra or two swapped: luohanguu, luohnaguo), found in the vocabulary
  ``catalog.SearchTerm``. Such matches rank below every exact one.
* **Ranking** tiers, best first: the name equals the query; the name contains the whole
  query; every word in the name; every word in the product's own fields; a word only
  through a category, origin or shop name; typo matches. Within a tier the host bank's
  merchants come first, then ts_rank of the weighted vector, then sales.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import opencc
from django.conf import settings
from pypinyin import lazy_pinyin

MAX_WORDS = 8

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
ASCII_WORD = re.compile(r"[a-z0-9]+")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ADMIN_SUFFIX = re.compile(r"(自治县|自治州|县|市|区|镇|乡|旗|州|省)$")
# Weights of the product's own fields: A name, B aliases and specs, C subtitle.
OWN = "ABC"

# The dictionary the platform started with; the federation edits its own copy
# (catalog.SynonymGroup, seeded from this list by a data migration).
SYNONYM_GROUPS: list[tuple[str, ...]] = [
    ("土豆", "马铃薯", "洋芋", "山药蛋"),
    ("番茄", "西红柿"),
    ("红薯", "地瓜", "番薯", "红苕", "白薯"),
    ("玉米", "苞谷", "包谷", "玉蜀黍", "棒子"),
    ("花生", "落花生", "长生果"),
    ("香菜", "芫荽"),
    ("茄子", "矮瓜"),
    ("青椒", "甜椒", "柿子椒", "菜椒"),
    ("辣椒", "海椒", "辣子"),
    ("豇豆", "豆角", "长豆角"),
    ("荸荠", "马蹄"),
    ("菠萝", "凤梨"),
    ("猕猴桃", "奇异果"),
    ("鸡蛋", "鸡子", "土鸡蛋"),
    ("木耳", "黑木耳"),
    ("山药", "淮山"),
    ("芋头", "芋艿", "毛芋"),
    ("香菇", "冬菇", "花菇"),
    ("土鸡", "走地鸡", "散养鸡"),
    ("小米", "粟米"),
    ("蜂蜜", "土蜂蜜", "百花蜜"),
    ("橘子", "桔子"),
    ("柚子", "文旦"),
    ("黄花菜", "金针菜"),
    ("葵花籽", "瓜子"),
]


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


# --- tokens -------------------------------------------------------------------------------

def cjk_grams(text: str) -> list[str]:
    """Unigrams and bigrams of every run of CJK characters in ``text``."""
    grams: list[str] = []
    for run in CJK.findall(text or ""):
        grams.extend(run)
        grams.extend(run[i:i + 2] for i in range(len(run) - 1))
    return grams


@lru_cache(maxsize=65536)
def full_pinyin(text: str) -> str:
    return "".join(s for s in lazy_pinyin(text) if s.isalpha())


def pinyin_suffixes(run: str) -> list[tuple[str, str]]:
    """(full pinyin, characters) of each suffix, at syllable boundaries, of a CJK run."""
    syllables = lazy_pinyin(run)
    out = []
    for i in range(len(run)):
        tail = "".join(s for s in syllables[i:] if s.isalpha())
        if tail:
            out.append((tail, run[i:]))
    return out


def pinyin_tokens(text: str) -> list[str]:
    """Suffixes, at syllable boundaries, of the full pinyin and of the initials."""
    tokens: list[str] = []
    for run in CJK.findall(text or ""):
        syllables = [s for s in lazy_pinyin(run) if s.isalpha()]
        initials = [s[0] for s in syllables]
        for i in range(len(syllables)):
            tokens.append("".join(syllables[i:]))
            if len(initials) - i >= 2:
                tokens.append("".join(initials[i:]))
    return tokens


def ascii_tokens(text: str) -> list[str]:
    return ASCII_WORD.findall((text or "").lower())


def split_aliases(text: str) -> list[str]:
    """Aliases as typed by a merchant: separated by commas, 、, semicolons or new lines."""
    return [a.strip() for a in re.split(r"[,，、;；\n/|]+", text or "") if a.strip()]


@lru_cache(maxsize=65536)
def whole_names(text: str) -> tuple[str, ...]:
    """A category, origin or shop name as whole tokens: the name without spaces and
    punctuation, also without an administrative suffix (茶陵县 -> 茶陵), and its pinyin."""
    norm = normalize_text(text).replace(" ", "")
    if not norm:
        return ()
    names = [norm]
    stripped = ADMIN_SUFFIX.sub("", norm)
    if stripped != norm and len(stripped) >= 2:
        names.append(stripped)
    for name in list(names):
        if CJK.fullmatch(name):
            names.append(full_pinyin(name))
    return tuple(_unique(names))


def _unique(tokens: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(t for t in tokens if t))


@dataclass
class Document:
    """What of a product is searchable, by field."""

    name: str
    name_en: str = ""
    aliases: list[str] = field(default_factory=list)
    specs: list[str] = field(default_factory=list)
    subtitle: str = ""
    gi_label: str = ""
    wholes: list[str] = field(default_factory=list)   # category, origin, shop names
    # Place names that a name may start with or contain (origin province, county,
    # township): their characters in the name weigh C, not A.
    places: list[str] = field(default_factory=list)


class _Vector:
    MAX_POSITION = 16383
    MAX_POSITIONS_PER_LEXEME = 32

    def __init__(self):
        self.pos = 1
        self.lexemes: dict[str, list[str]] = {}

    def add(self, token: str, weight: str) -> None:
        token = token.replace("'", "").replace("\\", "")
        if not token:
            return
        positions = self.lexemes.setdefault(token, [])
        if len(positions) < self.MAX_POSITIONS_PER_LEXEME:
            positions.append(f"{min(self.pos, self.MAX_POSITION)}{weight}")
        self.pos += 1

    def gap(self) -> None:
        self.pos += 2

    def add_text(self, text: str, weight: str, *, pinyin: bool,
                 places: tuple[str, ...] = ()) -> None:
        text = normalize_text(text)
        for run in CJK.findall(text):
            # characters of a place named in the text (茶陵 in 茶陵紫薯) are not the product
            in_place = [False] * len(run)
            for place in places:
                start = run.find(place)
                while start >= 0:
                    in_place[start:start + len(place)] = [True] * len(place)
                    start = run.find(place, start + 1)
            for i in range(len(run) - 1):       # pairs at consecutive positions
                self.add(run[i:i + 2], "C" if in_place[i] and in_place[i + 1] else weight)
            self.gap()
            for i, ch in enumerate(run):
                self.add(ch, "C" if in_place[i] else weight)
            self.gap()
            if pinyin:
                for token in pinyin_tokens(run):
                    self.add(token, weight)
                self.gap()
        for token in ascii_tokens(text):
            self.add(token, weight)
        self.gap()

    def literal(self) -> str:
        return " ".join(f"'{lex}':{','.join(pos)}" for lex, pos in self.lexemes.items())


@lru_cache(maxsize=4096)
def _place_names(places: tuple[str, ...]) -> tuple[str, ...]:
    """Place names as they appear in product names: 茶陵县 also as 茶陵; two characters or
    more."""
    names = []
    for place in places:
        for name in whole_names(place):
            if CJK.fullmatch(name) and len(name) >= 2:
                names.append(name)
    return tuple(_unique(names))


def document_vector(doc: Document) -> str:
    """The product's tsvector as a literal (cast with ``::tsvector``)."""
    vec = _Vector()
    places = _place_names(tuple(doc.places))
    vec.add_text(doc.name, "A", pinyin=True, places=places)
    vec.add_text(doc.name_en, "A", pinyin=False)
    for alias in doc.aliases:
        vec.add_text(alias, "B", pinyin=True)
    for spec in doc.specs:
        vec.add_text(spec, "B", pinyin=False)
    vec.add_text(doc.subtitle, "C", pinyin=False)
    vec.add_text(doc.gi_label, "C", pinyin=False)
    for whole in doc.wholes:
        for token in whole_names(whole):
            vec.add(token, "D")
        vec.gap()
    return vec.literal()


def document_text(doc: Document) -> str:
    """Plain text kept beside the vector (for the trigram index and the ILIKE baseline)."""
    return " ".join(t for t in [doc.name, doc.name_en, *doc.aliases, doc.subtitle,
                                *doc.wholes] if t)


def vocabulary_terms(doc: Document) -> list[tuple[str, str]]:
    """(pinyin or ASCII term, what to show) of a product's name and aliases: the typo
    vocabulary and the "did you mean" of an empty result."""
    terms: list[tuple[str, str]] = []
    for text in [doc.name, *doc.aliases]:
        for run in CJK.findall(normalize_text(text)):
            terms.extend((p, chars) for p, chars in pinyin_suffixes(run) if len(p) >= 4)
    for text in [doc.name_en, doc.name]:
        terms.extend((t, t) for t in ascii_tokens(normalize_text(text))
                     if len(t) >= 4 and t.isalpha())
    return list(dict(terms).items())


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


Synonyms = Mapping[str, tuple[str, ...]]


def synonym_index(groups: Iterable[Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """word -> every word of its group(s), from a list of groups."""
    index: dict[str, list[str]] = {}
    for group in groups:
        words = [w for w in (normalize_text(w).replace(" ", "") for w in group) if w]
        for word in words:
            index.setdefault(word, [])
            index[word].extend(w for w in words if w not in index[word])
    return {w: tuple(g) for w, g in index.items()}


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
