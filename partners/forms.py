from django import forms
from django.utils.translation import gettext_lazy as _

from banks.selectors import bank_list_active
from partners.models import PartnerKind


class PartnerForm(forms.Form):
    """Register a partner platform (the rules are the service's: fee rate, phone...)."""

    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=PartnerKind.choices)
    contact_name = forms.CharField(label=_("Contact person"), max_length=60)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=20)
    contact_email = forms.CharField(label=_("Contact email"), max_length=254, required=False)
    fee_rate = forms.CharField(label=_("Fee rate"), max_length=12, initial="0.0150",
                               help_text=_("A share of the sales, 0 to 0.2 (0.015 = 1.5%)."))
    banks = forms.ModelMultipleChoiceField(
        label=_("Allowed banks"), queryset=None, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The member banks whose merchants the partner may sell."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["banks"].queryset = bank_list_active()
