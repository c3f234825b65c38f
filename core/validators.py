"""Validators for Chinese identifiers."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def validate_cn_mobile(value: str) -> None:
    if not MOBILE_RE.match(value or ""):
        raise ValidationError(_("Enter a valid mainland China mobile number (11 digits)."),
                              code="invalid_mobile")


# Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from this
# alphabet (no I, O, Z, S, V); the last is a check character over the first 17.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> None:
    code = (value or "").strip().upper()
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        raise ValidationError(_("A unified social credit code has 18 digits or letters."),
                              code="invalid_uscc")
    if uscc_check_char(code[:17]) != code[17]:
        raise ValidationError(_("The unified social credit code's check character is wrong."),
                              code="invalid_uscc_checksum")


def mask_id_number(value: str) -> str:
    """Keep the first 3 and last 4 characters of a personal ID: 110***********1234."""
    value = (value or "").strip()
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def validate_cn_id_number(value: str) -> None:
    """An 18-character resident ID number (GB 11643) with its check character."""
    code = (value or "").strip().upper()
    if len(code) != 18 or not code[:17].isdigit() or not (code[17].isdigit() or
                                                          code[17] == "X"):
        raise ValidationError(_("An ID number has 17 digits and a check digit or X."),
                              code="invalid_id")
    total = sum(int(d) * w for d, w in zip(code[:17], ID_WEIGHTS, strict=True))
    if ID_CHECK[total % 11] != code[17]:
        raise ValidationError(_("The ID number's check digit is wrong."),
                              code="invalid_id_checksum")
