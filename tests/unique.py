"""Unique, deterministic names for test data.

Data that another process must see (the worker, the web server, a browser) is committed,
so its names must differ within a test session. They come from counters, not from chance:
every run makes the same names, and a name made here can never collide with another one.

Tags are written with the hex digits that do not occur in the tests' password
(``conftest.PASSWORD``), so a username made from a tag is never too similar to that
password for Django's UserAttributeSimilarityValidator, whatever the counter's value
(a random hex tag once was). They are still hex: ``int(tag, 16)`` works.
"""

from __future__ import annotations

import itertools

_DIGITS = "1345789bcdf"  # the hex digits that are not in "test@pass-2026"
_tags = itertools.count(1)
_numbers = itertools.count(1)


def tag(length: int = 6) -> str:
    """A tag of ``length`` characters, unique in the session."""
    return encode(next(_tags), length)


def encode(n: int, length: int) -> str:
    base = len(_DIGITS)
    if n >= base**length:
        raise RuntimeError(f"out of {length}-character tags")
    out = []
    for _ in range(length):
        n, digit = divmod(n, base)
        out.append(_DIGITS[digit])
    return "".join(reversed(out))


def mobile(prefix: str = "139") -> str:
    """A mobile number unique in the session, in a range no fixed test number uses."""
    return f"{prefix}7{next(_numbers):07d}"
