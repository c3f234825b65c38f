"""A product's search tokens: its tsvector, plain text and vocabulary terms (see
catalog.search)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from pypinyin import lazy_pinyin

from catalog.search.text import (
    ADMIN_SUFFIX,
    ASCII_WORD,
    CJK,
    _unique,
    normalize_text,
)

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
