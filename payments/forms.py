"""Forms of the settlement pages (bank, merchant and federation consoles)."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _


def split_expiry(value: str) -> tuple[str, str]:
    """"12/30", "12 / 2030" or "1230" -> (month, year); the service validates them."""
    value = (value or "").strip()
    if "/" in value:
        month, _sep, year = value.partition("/")
        return month.strip(), year.strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) in (4, 6):
        return digits[:2], digits[2:]
    return value, ""


class CardForm(forms.Form):
    """A card typed on one of our pages (test keys only; see docs/operations.md)."""

    number = forms.CharField(max_length=23, label=_("Card number"))
    exp = forms.CharField(max_length=7, label=_("Expiry (MM/YY)"))
    cvc = forms.CharField(max_length=4, label=_("Security code"))
    idempotency_key = forms.CharField(max_length=60)

    def expiry(self) -> tuple[str, str]:
        return split_expiry(self.cleaned_data.get("exp") or "")


class RunStartForm(forms.Form):
    cutoff = forms.DateTimeField(
        label=_("Cut-off"), required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Orders completed before this moment are settled; empty: now."))


class PayoutFailForm(forms.Form):
    reason = forms.CharField(label=_("Why it failed"), max_length=200)

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why the payout failed."))
        return reason


class SettlementAccountForm(forms.Form):
    account_name = forms.CharField(label=_("Account holder"), max_length=100)
    account_number = forms.CharField(label=_("Account number"), max_length=60)


MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str) -> tuple[int, int] | None:
    """``YYYY-MM`` -> (year, month), or None when it is not a month."""
    match = MONTH_RE.match((value or "").strip())
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        return None
    return year, month
