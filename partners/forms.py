from django import forms
from django.utils.translation import gettext_lazy as _

from banks.selectors import bank_list_active
from partners.models import (
    MemberRole,
    Partner,
    PartnerKind,
    PartnerStatus,
    Scope,
    WebhookEventType,
)


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


class MemberForm(forms.Form):
    """A person of a partner platform, added to its console (federation admins)."""

    partner = forms.ModelChoiceField(label=_("Partner"), queryset=None)
    person = forms.CharField(label=_("Mobile number or username"), max_length=150,
                             help_text=_("The person signs up first, as any shopper."))
    role = forms.ChoiceField(label=_("Role"), choices=MemberRole.choices,
                             help_text=_("Administrators manage keys and webhooks; viewers "
                                         "only read."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = Partner.objects.exclude(
            status=PartnerStatus.CLOSED).order_by("name")


class KeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60,
                           help_text=_("What the key is for, e.g. “catalog sync”."))
    scopes = forms.MultipleChoiceField(label=_("Scopes"), choices=Scope.choices,
                                       widget=forms.CheckboxSelectMultiple)


class RotateForm(forms.Form):
    overlap_hours = forms.IntegerField(label=_("Overlap (hours)"), min_value=0,
                                       max_value=720, initial=24)


class EndpointForm(forms.Form):
    url = forms.CharField(label=_("Address"), max_length=300,
                          help_text=_("https only (http only for localhost)."))
    events = forms.MultipleChoiceField(label=_("Events"), choices=WebhookEventType.choices,
                                       widget=forms.CheckboxSelectMultiple)
