"""The Chinese catalogue is complete and compiled: no entry left untranslated or fuzzy (a
fuzzy entry is not used, so its English shows on a Chinese page), and the tracked .mo
says what the .po says (someone who edits the .po runs `make messages`).

The catalogue itself is `makemessages`' output (`manage.py makemessages -l zh_Hans
--ignore=.venv --no-obsolete`): a message added to the code appears in it untranslated,
and this test then fails until it is translated.
"""

from __future__ import annotations

import gettext
import re
from pathlib import Path

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES"
ENTRY = re.compile(
    r'(?P<comments>(?:^#.*\n)*)'
    r'(?:^msgctxt (?P<context>(?:".*"\n)+))?'
    r'^msgid (?P<msgid>(?:".*"\n)+)'
    r'(?:^msgid_plural (?P<plural>(?:".*"\n)+))?'
    r'(?P<msgstrs>(?:^msgstr(?:\[\d+\])? (?:".*"\n)+)+)', re.M)


def _text(quoted: str) -> str:
    parts = re.findall(r'^(?:msgstr(?:\[\d+\])? )?"(.*)"$', quoted, re.M)
    return "".join(parts).encode("raw_unicode_escape").decode("unicode_escape")


def entries() -> list[dict]:
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    out = []
    for m in ENTRY.finditer(text):
        msgid = _text(m.group("msgid"))
        if not msgid:
            continue  # the header
        msgstrs = [_text(s) for s in re.findall(r'^msgstr(?:\[\d+\])? (?:".*"\n)+',
                                                 m.group("msgstrs"), re.M)]
        context = _text(m.group("context")) if m.group("context") else None
        out.append({"msgid": msgid, "context": context, "plural": m.group("plural") is not None,
                    "msgstrs": msgstrs, "fuzzy": bool(re.search(r"^#,.*\bfuzzy\b",
                                                                m.group("comments"), re.M))})
    return out


def test_the_catalogue_is_read_whole():
    assert len(entries()) > 1500


def test_every_message_has_chinese_and_none_is_fuzzy():
    untranslated = [e["msgid"] for e in entries() if not all(e["msgstrs"])]
    fuzzy = [e["msgid"] for e in entries() if e["fuzzy"]]
    assert not untranslated, untranslated[:20]
    assert not fuzzy, fuzzy[:20]


def test_placeholders_survive_translation():
    placeholder = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]+\}")
    wrong = [e["msgid"] for e in entries() for s in e["msgstrs"]
             if set(placeholder.findall(e["msgid"])) != set(placeholder.findall(s))
             and not e["plural"]]
    assert not wrong, wrong[:20]


def test_the_compiled_catalogue_matches_the_source():
    with (LOCALE / "django.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)

    def compiled_text(e):
        if e["context"] is not None:
            return compiled.pgettext(e["context"], e["msgid"])
        return compiled.gettext(e["msgid"])

    stale = [e["msgid"] for e in entries()
             if not e["plural"] and compiled_text(e) != e["msgstrs"][0]]
    assert not stale, f"run `make messages`: {stale[:10]}"
