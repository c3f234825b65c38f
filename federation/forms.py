from django import forms
from django.utils.translation import gettext_lazy as _

from banks.services import BranchSpec


class OnboardBankForm(forms.Form):
    code = forms.CharField(label=_("Bank code"), max_length=30,
                           help_text=_("Lowercase letters, digits and hyphens; the storefront "
                                       "answers on <code>.localhost in development."))
    name = forms.CharField(label=_("Full name"), max_length=100)
    short_name = forms.CharField(label=_("Short name"), max_length=30, required=False)
    region = forms.CharField(label=_("Region"), max_length=60, required=False)
    slogan = forms.CharField(label=_("Slogan"), max_length=120, required=False)
    brand_color = forms.CharField(label=_("Brand colour"), max_length=7, initial="#1f7a4d")
    domains = forms.CharField(label=_("Domains"), required=False,
                              widget=forms.Textarea(attrs={"rows": 2}),
                              help_text=_("One per line; empty for the default domain."))
    first_admin = forms.CharField(
        label=_("First admin (mobile number or username)"), max_length=150, required=False,
        help_text=_("Becomes the bank's admin, who then manages its staff in the bank "
                    "console. The person signs up first."))

    def clean_domains(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["domains"].splitlines()
                if line.strip()]


class BranchRowForm(forms.Form):
    """One branch of a bank being onboarded: a row of the onboarding page's table."""

    code = forms.CharField(label=_("Code"), max_length=30, required=False)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    county = forms.CharField(label=_("County"), max_length=60, required=False)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    opening_hours = forms.CharField(label=_("Opening hours"), max_length=120, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["aria-label"] = str(field.label)

    def spec(self) -> BranchSpec | None:
        """The branch this row describes; None for a row left empty."""
        data = self.cleaned_data
        if not any((data.get(name) or "").strip() for name in self.fields):
            return None
        return BranchSpec(code=data["code"].strip(), name=data["name"], county=data["county"],
                          address=data["address"], opening_hours=data["opening_hours"],
                          phone=data["phone"])


BranchRowFormSet = forms.formset_factory(BranchRowForm, extra=3, max_num=50,
                                         validate_max=True)


class PersonForm(forms.Form):
    person = forms.CharField(label=_("Mobile number or username"), max_length=150)


class SynonymGroupForm(forms.Form):
    words = forms.CharField(label=_("Words that mean the same produce"), max_length=300,
                            help_text=_("Separated by commas or spaces, e.g. 土豆, 马铃薯, 洋芋"))
