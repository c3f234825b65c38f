"""Suggestion keys: what a shopper may have started typing to mean a product.

A product's name (and English name, each alias) gives a key for each place a shopper may
start typing from: every CJK character, every ASCII word, and every syllable of the
name's pinyin, in full and as initials. 赣南脐橙 gives 赣南脐橙, 南脐橙, 脐橙, 橙,
gannanqicheng, nanqicheng, qicheng, cheng, gnqc, nqc, qc. A key runs to the end of the
name, so a typed prefix of a key is "the name contains this, from a boundary on", read
from a B-tree by ``key LIKE 'typed%'`` (``catalog.selectors.search_suggestions``).
"""

from __future__ import annotations

from pypinyin import lazy_pinyin

from catalog.search.text import CJK, normalize_text
from catalog.search.tokens import split_aliases

MAX_KEY = 120
# A single Latin letter says too little: it is not looked up among the names.
MIN_ASCII_PREFIX = 2


def _starts(words: list[str]) -> list[int]:
    """Where, in the words joined without spaces, a shopper may start typing: each word's
    start, each CJK character, and each change from CJK to ASCII (罗汉果500g: 500g)."""
    starts, offset = [], 0
    for word in words:
        for i, ch in enumerate(word):
            if i == 0 or CJK.fullmatch(ch) or CJK.fullmatch(word[i - 1]):
                starts.append(offset + i)
        offset += len(word)
    return starts


def text_keys(text: str) -> list[tuple[str, bool]]:
    """(key, whether it is the text's beginning) for one name, alias or English name."""
    words = normalize_text(text).split()
    compact = "".join(words)
    if not compact:
        return []
    keys = [(compact[i:], i == 0) for i in _starts(words)]
    syllables = [s for s in lazy_pinyin(compact) if s.isalpha()] if CJK.search(compact) else []
    initials = [s[0] for s in syllables]
    for i in range(len(syllables)):
        keys.append(("".join(syllables[i:]), i == 0))
        if len(initials) - i >= 2:
            keys.append(("".join(initials[i:]), i == 0))
    return keys


def product_keys(name: str, name_en: str = "", aliases: str = "") -> dict[str, bool]:
    """Every key of a product (key -> whether it begins a name, alias or English name)."""
    out: dict[str, bool] = {}
    for text in (name, name_en, *split_aliases(aliases)):
        for key, at_start in text_keys(text):
            key = key[:MAX_KEY]
            out[key] = out.get(key, False) or at_start
    return out


def typed_key(text: str) -> str:
    """What is typed, as a key prefix: normalised, without spaces ("" if too short to look
    up)."""
    compact = normalize_text(text).replace(" ", "")
    if not compact or (not CJK.search(compact) and len(compact) < MIN_ASCII_PREFIX):
        return ""
    return compact[:MAX_KEY]
