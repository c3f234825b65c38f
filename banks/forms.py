"""Forms of the bank console's staff page (a bank admin grants, changes and revokes roles)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import segment_choices
from banks.audit import AREAS
from banks.models import Branch, StaffRole


class _RoleBranchForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=StaffRole.choices)
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=Branch.objects.none(),
                                    required=False, empty_label=_("No branch (whole bank)"))

    def __init__(self, *args, bank, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = Branch.objects.filter(bank=bank).order_by("code")


class StaffGrantForm(_RoleBranchForm):
    person = forms.CharField(label=_("Mobile number or username"), max_length=150)
    field_order = ["person", "role", "branch"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].initial = StaffRole.ACCOUNT_MANAGER


class StaffChangeForm(_RoleBranchForm):
    """One row of the staff table: its selects carry their labels for screen readers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("role", "branch"):
            self.fields[name].widget.attrs["aria-label"] = str(self.fields[name].label)


class AuditFilterForm(forms.Form):
    """The audit page's filters (a GET form: an empty field means "any")."""

    area = forms.ChoiceField(label=_("Area"), required=False)
    person = forms.CharField(label=_("Who (mobile number or username)"), required=False,
                             max_length=150)
    since = forms.DateField(label=_("First day"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("Last day (inclusive)"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [("", _("All areas")), *AREAS.items()]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("The end is before the start."))
        return data


class CustomerGroupForm(forms.Form):
    """Find a customer by mobile number and record their customer group."""

    phone = forms.CharField(label=_("Customer's mobile number"), max_length=20)
    segment = forms.ChoiceField(label=_("Customer group"), choices=segment_choices,
                                required=False)
