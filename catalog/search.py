"""Search that works for Chinese: how products are indexed and queries are understood.

Technique (figures in bench/README.md, section "Search"):

* Each listed product gets a PostgreSQL ``tsvector`` (config ``simple``, GIN index) of
  tokens made here, not by PostgreSQL's parser, which does not segment Chinese:
  - every CJK character and every pair of adjacent characters of the name, subtitle,
    category, origin, merchant name and GI label (so any substring of two or more
    characters of a name is found by AND-ing its bigrams: 罗汉果 -> 罗汉 & 汉果 finds
    香港罗汉果; a single character by its unigram);
  - pinyin of the name: the whole syllable string from each syllable on
    (xianggangluohanguo, gangluohanguo, luohanguo, ...), and the same for the initials
    (xglhg, glhg, lhg, ...), matched by prefix, so "luohan" and "lhg" both find it;
  - ASCII words (brand names, grades) as they are;
  - the full pinyin of regional synonyms of the name (malingshu for 土豆), and only that:
    not their initials (mls) nor their later syllables (lingshu).
  Name tokens get weight A, the rest weight B, so name matches rank first.
* A query is NFKC-normalized first (full-width ＬＨＧ and ２５ become lhg and 25), then split
  on whitespace; each word must match (AND). A Chinese word is expanded with its regional
  synonyms (土豆 = 马铃薯 = 洋芋), each alternative being the AND of its bigrams, the
  alternatives OR-ed. An ASCII word is matched as a pinyin or pinyin-initials prefix, or as
  an ASCII token.
* Ranking: ts_rank of the weighted vector, plus a boost when the whole query occurs in the
  name (a LIKE pattern in which the query's own %, _ and backslash are literal), then
  sales.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from pypinyin import lazy_pinyin

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
ASCII_WORD = re.compile(r"[a-z0-9]+")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Regional names of the same produce: each group is one meaning.
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
_SYNONYMS: dict[str, tuple[str, ...]] = {}
for _group in SYNONYM_GROUPS:
    for _word in _group:
        _SYNONYMS[_word] = _group


def cjk_grams(text: str) -> list[str]:
    """Unigrams and bigrams of every run of CJK characters in ``text``."""
    grams: list[str] = []
    for run in CJK.findall(text or ""):
        grams.extend(run)
        grams.extend(run[i:i + 2] for i in range(len(run) - 1))
    return grams


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


def _quote(token: str) -> str:
    return token.replace("'", "").replace("\\", "")


def _unique(tokens: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(t for t in tokens if t))


def document_tokens(*, name: str, others: Iterable[str]) -> tuple[list[str], list[str]]:
    """(weight-A tokens, weight-B tokens) for a product."""
    # Chinese synonyms are expanded at query time only: indexing their characters would
    # make 山药 (yam) find 土豆 (potato), one of whose regional names is 山药蛋. Their full
    # pinyin is indexed, so that "malingshu" finds 土豆 too.
    synonyms = [syn for word in _SYNONYMS if word in (name or "")
                for syn in _SYNONYMS[word] if syn != word]
    strong = _unique([*cjk_grams(name), *pinyin_tokens(name), *ascii_tokens(name)])
    other_text = " ".join(others)
    weak = _unique([*cjk_grams(other_text), *ascii_tokens(other_text),
                    *("".join(lazy_pinyin(syn)) for syn in synonyms)])
    weak = [t for t in weak if t not in set(strong)]
    return strong, weak


def document_text(*, name: str, others: Iterable[str]) -> str:
    """Plain text kept beside the vector (for the trigram index and the ILIKE baseline)."""
    return " ".join([name, *others])


def _cjk_word_query(word: str) -> str:
    if len(word) == 1:
        return f"'{_quote(word)}'"
    grams = [word[i:i + 2] for i in range(len(word) - 1)]
    return " & ".join(f"'{_quote(g)}'" for g in _unique(grams))


def word_query(word: str) -> str | None:
    """The tsquery for one query word, or None if nothing searchable is left."""
    word = word.strip().lower()
    if not word:
        return None
    if CJK.fullmatch(word):
        alternatives = _SYNONYMS.get(word, (word,))
        if word not in alternatives:
            alternatives = (word, *alternatives)
        parts = [f"({_cjk_word_query(alt)})" for alt in alternatives]
        return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"
    pieces: list[str] = []
    for run in CJK.findall(word):
        pieces.append(f"({_cjk_word_query(run)})")
    for token in ASCII_WORD.findall(word):
        pieces.append(f"'{_quote(token)}':*")
    if not pieces:
        return None
    return " & ".join(pieces)


def normalize_query(query: str | None) -> str:
    """The query as it is searched: NFKC folds full-width letters, digits and spaces (what
    Chinese input methods often type) into their ASCII forms; control characters become
    spaces (PostgreSQL refuses a NUL in a string parameter)."""
    return CONTROL.sub(" ", unicodedata.normalize("NFKC", query or "")).strip()


def like_contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def build_tsquery(query: str | None) -> str | None:
    """A raw tsquery for a shopper's query, or None when it has nothing to search for."""
    words = [w for w in re.split(r"\s+", normalize_query(query)) if w]
    parts = [q for q in (word_query(w) for w in words[:8]) if q]
    if not parts:
        return None
    return " & ".join(f"({p})" for p in parts)
