"""Forms of the bank console's lending pages.

They only shape the input; the rules (who may decide, what a policy may hold) live in
``lending.services``, whose messages the pages show on the fields.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lending.models import LendingPolicy, PartyKind, Tier
from lending.scoring import BUYER_FACTORS, MERCHANT_FACTORS

FACTOR_NAMES = [name for name, _w, _l in MERCHANT_FACTORS] + [
    name for name, _w, _l in BUYER_FACTORS if name not in {n for n, _w, _l in MERCHANT_FACTORS}]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=[
        ("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.RadioSelect)
    note = forms.CharField(label=_("Reason or note"), required=False, max_length=300,
                           widget=forms.Textarea(attrs={"rows": 2}),
                           help_text=_("A rejection must say why; the reason stays in "
                                       "the audit trail."))


class WriteOffForm(forms.Form):
    note = forms.CharField(label=_("Why the loan is written off"), max_length=300,
                           widget=forms.Textarea(attrs={"rows": 2}))


class RecomputeForm(forms.Form):
    party = forms.ChoiceField(choices=PartyKind.choices)
    party_id = forms.IntegerField(min_value=1)


class ProfileFilterForm(forms.Form):
    party = forms.ChoiceField(label=_("Party"), required=False,
                              choices=[("", _("Everyone"))] + list(PartyKind.choices))
    tier = forms.ChoiceField(label=_("Tier"), required=False,
                             choices=[("", _("Every tier"))] + list(Tier.choices))


def _parse_weights(text: str) -> dict[str, int]:
    """``factor: points`` per line (or separated by commas) into a dict; blank = defaults."""
    weights: dict[str, int] = {}
    for raw in text.replace(",", "\n").replace("，", "\n").splitlines():
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.replace("：", ":").replace("=", ":").partition(":")
        name = name.strip()
        if not sep or name not in FACTOR_NAMES:
            raise forms.ValidationError(
                _("Write one factor per line as “factor: points”; factors are %(names)s.")
                % {"names": ", ".join(FACTOR_NAMES)})
        try:
            weights[name] = int(value.strip())
        except ValueError:
            raise forms.ValidationError(
                _("The points of %(name)s must be a whole number.") % {"name": name}
            ) from None
    return weights


class PolicyForm(forms.ModelForm):
    """The bank's lending parameters. ``weights`` and ``instalment_months`` are JSON on the
    model and plain text here."""

    weights_text = forms.CharField(
        label=_("Factor weights (most points)"), required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=_("One per line, e.g. “sales: 150”. A factor not listed keeps its "
                    "default weight."))
    terms_text = forms.CharField(label=_("Instalment terms (months)"), max_length=60,
                                 help_text=_("Separated by commas, e.g. 3, 6, 12."))

    class Meta:
        model = LendingPolicy
        fields = ["base_score", "tier_a_min", "tier_b_min", "tier_c_min", "rate_a", "rate_b",
                  "rate_c", "penalty_multiplier", "merchant_limit_months",
                  "buyer_limit_months", "merchant_limit_cap", "buyer_limit_cap",
                  "advance_ratio", "order_financing_days", "purchase_financing_days",
                  "auto_tiers", "second_approval_over"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        policy = self.instance
        self.fields["weights_text"].initial = "\n".join(
            f"{k}: {v}" for k, v in sorted((policy.weights or {}).items()))
        self.fields["terms_text"].initial = ", ".join(map(str, policy.terms))
        self.fields["auto_tiers"].required = False
        for name, field in self.fields.items():
            if isinstance(field.widget, forms.NumberInput):
                field.widget = forms.TextInput(attrs={"inputmode": "decimal",
                                                      "autocomplete": "off"})
            field.widget.attrs.setdefault("id", f"id_{name}")

    def clean_weights_text(self) -> dict[str, int]:
        return _parse_weights(self.cleaned_data.get("weights_text") or "")

    def clean_terms_text(self) -> list[int]:
        text = (self.cleaned_data.get("terms_text") or "").replace("，", ",")
        try:
            terms = sorted({int(t) for t in text.split(",") if t.strip()})
        except ValueError:
            raise forms.ValidationError(_("List whole numbers of months, e.g. 3, 6, 12.")
                                        ) from None
        if not terms:
            raise forms.ValidationError(_("List at least one term."))
        return terms

    def clean_auto_tiers(self) -> str:
        return "".join(sorted(set((self.cleaned_data.get("auto_tiers") or "").upper()
                                  .replace(",", "").replace(" ", ""))))

    def _post_clean(self):
        # The service validates the whole policy (and saves it); the form does not touch
        # the instance.
        pass

    def changes(self) -> dict:
        """Only what differs from the current policy (the audit record lists these)."""
        policy = self.instance
        out = {f: v for f, v in self.cleaned_data.items()
               if f in self.Meta.fields and getattr(policy, f) != v}
        if self.cleaned_data["weights_text"] != (policy.weights or {}):
            out["weights"] = self.cleaned_data["weights_text"]
        if self.cleaned_data["terms_text"] != policy.terms:
            out["instalment_months"] = self.cleaned_data["terms_text"]
        return out
