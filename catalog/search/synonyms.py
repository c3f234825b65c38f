"""The synonym dictionary the platform started with, and its index (see catalog.search)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from catalog.search.text import normalize_text

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
