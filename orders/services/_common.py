"""Small helpers the buying services share."""

from __future__ import annotations


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
