"""Forms of the merchant console's and the bank console's order pages.

They only shape the input; the rules (what a tracking number, a refund amount or a flash
price may be) live in ``orders.services``, whose messages the pages show on the fields.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

# The carriers most parcels in the province travel with; the value is stored on the order.
CARRIERS = [
    ("中国邮政", _("China Post (EMS)")),
    ("顺丰速运", _("SF Express")),
    ("中通快递", _("ZTO Express")),
    ("圆通速递", _("YTO Express")),
    ("韵达快递", _("Yunda Express")),
    ("京东物流", _("JD Logistics")),
]

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _money_input(**attrs):
    return forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", **attrs})


class ShipForm(forms.Form):
    carrier = forms.ChoiceField(label=_("Carrier"), choices=CARRIERS)
    tracking_number = forms.CharField(
        label=_("Tracking number"), required=False, max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))


class TrackForm(forms.Form):
    description = forms.CharField(label=_("What happened"), required=False, max_length=300,
                                  widget=forms.TextInput(
                                      attrs={"placeholder": _("e.g. Arrived at the county depot")}))
    location = forms.CharField(label=_("Where"), required=False, max_length=100)
    delivered = forms.BooleanField(label=_("The parcel was delivered to the recipient"),
                                   required=False)


class RefundIssueForm(forms.Form):
    amount = forms.CharField(label=_("Amount (yuan)"), required=False, max_length=20,
                             widget=_money_input())
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)


class RefundDecideForm(forms.Form):
    note = forms.CharField(label=_("Note to the buyer"), required=False, max_length=300,
                           help_text=_("Required when you refuse the refund."))


class ShippingRuleForm(forms.Form):
    flat_fee = forms.CharField(label=_("Delivery fee per order (yuan)"), max_length=20,
                               required=False, widget=_money_input())
    free_over = forms.CharField(label=_("Free delivery from a goods total of (yuan)"),
                                max_length=20, required=False, widget=_money_input(),
                                help_text=_("Leave empty if delivery is never free."))


class FlashSaleForm(forms.Form):
    sku = forms.ModelChoiceField(label=_("Product specification"), queryset=None,
                                 empty_label=None)
    title = forms.CharField(label=_("Title"), max_length=80, required=False)
    price = forms.CharField(label=_("Flash price (yuan)"), max_length=20, required=False,
                            widget=_money_input())
    starts_at = forms.DateTimeField(
        label=_("Starts"), required=False, input_formats=[DATETIME_LOCAL],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL))
    ends_at = forms.DateTimeField(
        label=_("Ends"), required=False, input_formats=[DATETIME_LOCAL],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL))
    quantity = forms.IntegerField(label=_("Quantity on sale"), required=False, min_value=1,
                                  widget=forms.NumberInput(attrs={"min": 1}))
    per_customer_limit = forms.IntegerField(label=_("Limit per customer"), required=False,
                                            min_value=1, initial=1,
                                            widget=forms.NumberInput(attrs={"min": 1}))

    def __init__(self, *args, skus, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sku"].queryset = skus
        self.fields["sku"].label_from_instance = (
            lambda s: f"{s.product.name} · {s.spec}/{s.unit} · ¥{s.price} · "
                      + str(_("stock %(n)d") % {"n": s.stock}))


class PickupForm(forms.Form):
    code = forms.CharField(
        label=_("Pickup code"), max_length=20,
        error_messages={"required": _("Enter the 8-digit pickup code the buyer shows you.")},
        widget=forms.TextInput(attrs={
            "class": "code", "inputmode": "numeric", "autocomplete": "off",
            "autofocus": True, "placeholder": "0000 0000", "spellcheck": "false"}))
