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
    branches = forms.CharField(
        label=_("Branches"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line: code | name | county | address | opening hours | phone"))

    def clean_domains(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["domains"].splitlines()
                if line.strip()]

    def clean_branches(self) -> list[BranchSpec]:
        specs = []
        for number, line in enumerate(self.cleaned_data["branches"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 4:
                raise forms.ValidationError(
                    _("Line %(n)s: give at least code | name | county | address.")
                    % {"n": number})
            parts += [""] * (6 - len(parts))
            specs.append(BranchSpec(code=parts[0], name=parts[1], county=parts[2],
                                    address=parts[3], opening_hours=parts[4],
                                    phone=parts[5]))
        return specs


class SynonymGroupForm(forms.Form):
    words = forms.CharField(label=_("Words that mean the same produce"), max_length=300,
                            help_text=_("Separated by commas or spaces, e.g. 土豆, 马铃薯, 洋芋"))
