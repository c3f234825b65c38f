from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import UNITS, Category
from core.uploads import UploadFormField


class ProductForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    category = forms.ModelChoiceField(label=_("Category"),
                                      queryset=Category.objects.filter(parent__isnull=False)
                                      .select_related("parent").order_by("parent__position",
                                                                         "position"))
    name_en = forms.CharField(label=_("English name"), max_length=120, required=False)
    aliases = forms.CharField(label=_("Aliases"), max_length=200, required=False,
                              help_text=_("Other names shoppers use for it, separated by "
                                          "commas, e.g. 马铃薯, 洋芋"))
    subtitle = forms.CharField(label=_("Subtitle"), max_length=200, required=False)
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    origin_province = forms.CharField(label=_("Province of origin"), max_length=30,
                                      required=False)
    origin_county = forms.CharField(label=_("County of origin"), max_length=60)
    origin_township = forms.CharField(label=_("Township of origin"), max_length=60,
                                      required=False)
    gi_label = forms.CharField(label=_("Geographical indication"), max_length=80,
                               required=False)
    image = UploadFormField(label=_("Image"), required=False, policy="image")


class SkuForm(forms.Form):
    spec = forms.CharField(label=_("Specification"), max_length=60)
    unit = forms.ChoiceField(label=_("Unit"), choices=[(u, u) for u in UNITS])
    price = forms.DecimalField(label=_("Retail price (yuan)"), max_digits=12,
                               decimal_places=2, min_value=0)
    stock = forms.IntegerField(label=_("Stock"), min_value=0, initial=0)
    tiers = forms.CharField(label=_("Wholesale tiers"), required=False,
                            help_text=_("One per line: minimum quantity = unit price, "
                                        "e.g. 10 = 35.00"),
                            widget=forms.Textarea(attrs={"rows": 2}))

    def clean_tiers(self):
        tiers = []
        for line in self.cleaned_data["tiers"].splitlines():
            if not line.strip():
                continue
            try:
                qty, price = (part.strip() for part in line.split("=", 1))
                tiers.append((int(qty), Decimal(price)))
            except (ValueError, InvalidOperation):
                raise forms.ValidationError(_("Write each tier as “10 = 35.00”."))
        return tiers


class StockForm(forms.Form):
    # The merchant's count of the shelf (on hand, reserved units included).
    stock = forms.IntegerField(label=_("On hand"), min_value=0)


class BatchForm(forms.Form):
    code = forms.CharField(label=_("Batch code"), max_length=40)
    harvest_date = forms.DateField(label=_("Harvest or production date"),
                                   widget=forms.DateInput(attrs={"type": "date"}))
    farm = forms.CharField(label=_("Farm"), max_length=100)
    plot = forms.CharField(label=_("Plot"), max_length=100, required=False)
    inputs = forms.CharField(
        label=_("Inputs used"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: kind | name | date | amount, e.g. "
                    "“肥料 | 有机肥 | 2026-03-01 | 200公斤/亩”; "
                    "kinds: 肥料, 农药, 饲料, 兽药, 其他"))
    lab_report = forms.CharField(label=_("Lab report"), required=False,
                                 widget=forms.Textarea(attrs={"rows": 2}))
    inspection_report = forms.CharField(label=_("Inspection report"), required=False,
                                        widget=forms.Textarea(attrs={"rows": 2}))
    report_file = UploadFormField(label=_("Report document"), required=False, policy="report")

    def clean_inputs(self):
        items = []
        for line in self.cleaned_data["inputs"].splitlines():
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")] + ["", "", "", ""]
            items.append({"kind": parts[0], "name": parts[1], "date": parts[2],
                          "amount": parts[3]})
        return items


class BatchReportForm(forms.Form):
    report_file = UploadFormField(label=_("Report document"), policy="report")


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)
