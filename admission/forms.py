from django import forms
from django.utils.translation import gettext_lazy as _

from admission.models import LicenceKind, Verdict
from catalog.models import MerchantKind
from core.uploads import UploadFormField


class ApplyForm(forms.Form):
    shop_name = forms.CharField(label=_("Shop name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind of business"), choices=MerchantKind.choices)
    county = forms.CharField(label=_("County"), max_length=60)
    township = forms.CharField(label=_("Township"), max_length=60, required=False)
    intro = forms.CharField(label=_("Introduction"), required=False,
                            widget=forms.Textarea(attrs={"rows": 3}))
    uscc = forms.CharField(label=_("Unified social credit code"), max_length=18)
    legal_rep_name = forms.CharField(label=_("Legal representative"), max_length=60)
    legal_rep_id = forms.CharField(label=_("Legal representative's ID number"), max_length=18,
                                   help_text=_("Stored masked: only the first 3 and last 4 "
                                               "characters are kept."))
    contact_phone = forms.CharField(label=_("Contact mobile number"), max_length=11)
    address = forms.CharField(label=_("Business address"), max_length=200)
    licence_number = forms.CharField(label=_("Business licence number"), max_length=60)
    licence_expires = forms.DateField(label=_("Business licence valid until"),
                                      widget=forms.DateInput(attrs={"type": "date"}))
    licence_scan = UploadFormField(label=_("Business licence scan"), required=False,
                                   policy="scan")
    sc_number = forms.CharField(label=_("Food production (SC) permit number"), max_length=60,
                                required=False, help_text=_("If you process food."))
    sc_expires = forms.DateField(label=_("SC permit valid until"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("sc_number") and not data.get("sc_expires"):
            self.add_error("sc_expires", _("Give the permit's expiry date."))
        return data


class InspectionForm(forms.Form):
    inspected_on = forms.DateField(label=_("Date"),
                                   widget=forms.DateInput(attrs={"type": "date"}))
    findings = forms.CharField(label=_("Findings"), widget=forms.Textarea(attrs={"rows": 3}))
    verdict = forms.ChoiceField(label=_("Verdict"), choices=Verdict.choices)
    photo = UploadFormField(label=_("Photo"), required=False, policy="image")


class LicenceScanForm(forms.Form):
    licence = forms.IntegerField(min_value=1, max_value=2**62, widget=forms.HiddenInput)
    document = UploadFormField(label=_("Scan"), policy="scan")


class DecisionForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False,
                             widget=forms.TextInput())


__all__ = ["ApplyForm", "DecisionForm", "InspectionForm", "LicenceKind", "LicenceScanForm"]
