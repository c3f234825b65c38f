"""Forms of the points pages and the points console. They only read the input; the
services decide (balances, limits, windows, bounds) and their messages are shown."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Segment

BIG = 2 ** 63 - 1  # ids are bigints: anything larger is refused as input, not by the database


class RedeemForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=999, initial=1, label=_("Quantity"))
    branch = forms.IntegerField(label=_("Pickup branch"), min_value=1, max_value=BIG,
                                error_messages={"required": _("Choose a branch to pick up at.")})


class ApplyPointsForm(forms.Form):
    points = forms.IntegerField(min_value=1, max_value=10 ** 9, label=_("Points to use"),
                                error_messages={"min_value": _("Use at least one point.")})


class ProgrammeForm(forms.Form):
    name = forms.CharField(max_length=60, label=_("Programme name"))
    points_per_yuan = forms.DecimalField(max_digits=6, decimal_places=2, min_value=0,
                                         max_value=100, label=_("Points earned per yuan"))
    yuan_per_point = forms.DecimalField(max_digits=6, decimal_places=4, min_value=0,
                                        max_value=1, label=_("Yuan a point is worth"))
    expiry_months = forms.IntegerField(min_value=1, max_value=120,
                                       label=_("Points expire after (months)"))
    sharer_points_per_yuan = forms.DecimalField(max_digits=6, decimal_places=2, min_value=0,
                                                max_value=100,
                                                label=_("Sharer's points per yuan"))
    max_order_share = forms.DecimalField(max_digits=4, decimal_places=2, min_value=0,
                                         max_value=1,
                                         label=_("Largest share of the goods paid by points"),
                                         help_text=_("0.50 = half; never shipping or flash "
                                                     "sale items."))


class EarningRuleForm(forms.Form):
    name = forms.CharField(max_length=60, label=_("Name"))
    category_id = forms.IntegerField(required=False, min_value=1, max_value=BIG,
                                     label=_("Category (empty: all)"))
    multiplier = forms.DecimalField(max_digits=4, decimal_places=2, min_value=1,
                                    max_value=10, label=_("Multiplier"))
    starts_at = forms.DateTimeField(required=False, label=_("Starts"))
    ends_at = forms.DateTimeField(required=False, label=_("Ends"))
    is_active = forms.BooleanField(required=False, initial=True, label=_("Active"))


class OfferForm(forms.Form):
    title = forms.CharField(max_length=80, label=_("Title"))
    sku_id = forms.IntegerField(label=_("SKU"), min_value=1, max_value=BIG)
    points_price = forms.IntegerField(min_value=1, label=_("Points"))
    cash_price = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0,
                                    initial=Decimal("0.00"), label=_("Cash part (yuan)"))
    quantity = forms.IntegerField(min_value=1, label=_("Quantity offered"))
    per_customer_limit = forms.IntegerField(min_value=1, initial=1,
                                            label=_("Limit per customer"))
    starts_at = forms.DateTimeField(label=_("Starts"),
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                             format="%Y-%m-%dT%H:%M"))
    ends_at = forms.DateTimeField(label=_("Ends"),
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                             format="%Y-%m-%dT%H:%M"))
    is_flash = forms.BooleanField(required=False, label=_("Flash redemption"))
    segments = forms.MultipleChoiceField(choices=Segment.choices, required=False,
                                         widget=forms.CheckboxSelectMultiple,
                                         label=_("Only for customer groups (none: everyone)"))
    is_active = forms.BooleanField(required=False, initial=True, label=_("Active"))


class CollectForm(forms.Form):
    code = forms.CharField(max_length=8, min_length=8, label=_("Pickup code"),
                           error_messages={"min_length": _("A pickup code has 8 digits.")})
