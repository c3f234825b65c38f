"""Masking of personal data in what an audience reads: one rule, used by the selectors'
read views, so that a page and its API show the same value."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """``138****5678``: the first three and the last four digits of a phone number. Short
    values (a landline extension, nothing at all) have nothing to hide behind and stay."""
    phone = phone or ""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else phone
