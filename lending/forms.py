"""Forms of the buyer's and the merchant's financing pages. They only read the input;
the services decide (limits, tiers, terms) and their messages are shown on the page."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.forms import CardForm


class CheckoutFinanceForm(forms.Form):
    """``choice`` is "later" (pay later, business buyers) or a number of months."""

    choice = forms.CharField(max_length=8, error_messages={
        "required": _("Choose pay later or a number of instalments.")})

    def clean_choice(self) -> int | None:
        value = self.cleaned_data["choice"].strip()
        if value == "later":
            return None
        if value.isdigit() and 0 < int(value) <= 36:
            return int(value)
        raise forms.ValidationError(_("Choose pay later or a number of instalments."))


class OrderFinanceForm(forms.Form):
    """How much of the order to advance; empty means the most the bank advances."""

    amount = forms.DecimalField(required=False, max_digits=12, decimal_places=2,
                                min_value=Decimal("0.01"), label=_("Amount (yuan)"),
                                error_messages={"invalid": _("Enter an amount in yuan, "
                                                             "e.g. 100.00.")})


class RepayForm(CardForm):
    """A card repayment: the card, and whether to repay the whole loan now."""

    everything = forms.BooleanField(required=False, label=_("Repay the whole loan now"))
