"""The merchant console, on the domain of the bank that admitted the merchant: shop
profile, products, SKUs and stock, batches. Every id goes through a member-scoped
selector: someone else's shop is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog import selectors, services
from catalog.forms import BatchForm, BatchReportForm, ProductForm, ReasonForm, SkuForm, StockForm
from core.errors import ApplicationError
from core.forms import add_service_errors


def _merchant(request, merchant_id: int):
    return selectors.merchant_for_member(user=request.user, bank=request.bank,
                                         merchant_id=merchant_id)


def _member_product(request, merchant_id: int, product_id: int):
    merchant = _merchant(request, merchant_id)
    return merchant, selectors.product_for_member(merchant=merchant, product_id=product_id)


@login_required
def home(request):
    merchants = list(selectors.merchants_of_member(user=request.user, bank=request.bank))
    if len(merchants) == 1:
        return redirect("merchant:shop", merchants[0].pk)
    return render(request, "catalog/merchant/home.html", {"merchants": merchants})


@login_required
def shop(request, merchant_id: int):
    merchant = _merchant(request, merchant_id)
    return render(request, "catalog/merchant/shop.html", {
        "merchant": merchant,
        "products": selectors.products_of_merchant(merchant=merchant),
    })


@login_required
@require_POST
def profile(request, merchant_id: int):
    merchant = _merchant(request, merchant_id)
    services.merchant_update_profile(merchant=merchant, intro=request.POST.get("intro", ""),
                                     township=request.POST.get("township", ""))
    messages.success(request, _("Shop profile saved."))
    return redirect("merchant:shop", merchant.pk)


@login_required
def product_new(request, merchant_id: int):
    merchant = _merchant(request, merchant_id)
    form = ProductForm(request.POST or None, request.FILES or None)
    sku_form = SkuForm(request.POST or None, prefix="sku")
    if request.method == "POST" and form.is_valid() and sku_form.is_valid():
        data, sku = form.cleaned_data, sku_form.cleaned_data
        try:
            product = services.product_create(
                merchant=merchant, skus=[services.SkuSpec(
                    spec=sku["spec"], unit=sku["unit"], price=sku["price"],
                    stock=sku["stock"], tiers=sku["tiers"])], **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Product saved as a draft."))
            return redirect("merchant:product", merchant.pk, product.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "catalog/merchant/product_new.html",
                  {"merchant": merchant, "form": form, "sku_form": sku_form}, status=status)


@login_required
def product_edit(request, merchant_id: int, product_id: int):
    merchant, product = _member_product(request, merchant_id, product_id)
    initial = {f: getattr(product, f) for f in _PRODUCT_FIELDS}
    form = ProductForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.product_update(product=product, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("merchant:product", merchant.pk, product.pk)
    return _product_page(request, merchant, product, form=form,
                         status=400 if request.method == "POST" else 200)


_PRODUCT_FIELDS = ("name", "name_en", "aliases", "category", "subtitle", "description",
                   "origin_province", "origin_county", "origin_township", "gi_label")


def _product_page(request, merchant, product, *, form=None, sku_form=None, batch_form=None,
                  status=200):
    """The product's console page with its three forms (details, new SKU, new batch)."""
    if form is None:
        form = ProductForm(initial={f: getattr(product, f) for f in _PRODUCT_FIELDS})
    return render(request, "catalog/merchant/product.html", {
        "merchant": merchant, "product": product, "form": form,
        "sku_form": sku_form or SkuForm(prefix="sku"),
        "batch_form": batch_form or BatchForm(prefix="batch"),
        "skus": product.skus.all(), "batches": product.batches.all(),
    }, status=status)


def _back(merchant, product):
    return redirect("merchant:product", merchant.pk, product.pk)


@login_required
@require_POST
def sku_add(request, merchant_id: int, product_id: int):
    merchant, product = _member_product(request, merchant_id, product_id)
    form = SkuForm(request.POST, prefix="sku")
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.sku_add(product=product, spec=services.SkuSpec(
                spec=d["spec"], unit=d["unit"], price=d["price"], stock=d["stock"],
                tiers=d["tiers"]))
            messages.success(request, _("Specification added."))
            return _back(merchant, product)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _product_page(request, merchant, product, sku_form=form, status=400)


@login_required
@require_POST
def stock_set(request, merchant_id: int, product_id: int, sku_id: int):
    merchant, product = _member_product(request, merchant_id, product_id)
    sku = product.skus.filter(pk=sku_id).first()
    form = StockForm(request.POST)
    if sku is None or not form.is_valid():
        messages.error(request, _("Stock must be a whole number, zero or more."))
        return _back(merchant, product)
    try:
        services.stock_set(sku=sku, on_hand=form.cleaned_data["stock"])
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return _back(merchant, product)
    messages.success(request, _("Stock updated."))
    return _back(merchant, product)


@login_required
@require_POST
def batch_add(request, merchant_id: int, product_id: int):
    merchant, product = _member_product(request, merchant_id, product_id)
    form = BatchForm(request.POST, request.FILES, prefix="batch")
    if form.is_valid():
        try:
            services.batch_create(product=product, **form.cleaned_data)
            messages.success(request, _("Batch added; its traceability page is live."))
            return _back(merchant, product)
        except ValidationError as exc:
            add_service_errors(form, exc)
    return _product_page(request, merchant, product, batch_form=form, status=400)


@login_required
@require_POST
def batch_report(request, merchant_id: int, product_id: int, batch_id: int):
    merchant, product = _member_product(request, merchant_id, product_id)
    batch = get_object_or_404(product.batches.all(), pk=batch_id)
    form = BatchReportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return _back(merchant, product)
    services.batch_set_report(batch=batch, report_file=form.cleaned_data["report_file"])
    messages.success(request, _("Report document saved."))
    return _back(merchant, product)


def _result_rows(text: str) -> list[dict]:
    """One result a line: item | value | unit | limit | 合格 or 不合格."""
    rows = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.replace("｜", "|").split("|")]
        parts += [""] * (5 - len(parts))
        rows.append({"item": parts[0], "value": parts[1], "unit": parts[2],
                     "limit": parts[3], "passed": parts[4]})
    return rows


@login_required
@require_POST
def lab_report_add(request, merchant_id: int, product_id: int, batch_id: int):
    merchant, product = _member_product(request, merchant_id, product_id)
    batch = get_object_or_404(product.batches.all(), pk=batch_id)
    try:
        services.lab_report_add(batch=batch, lab_name=request.POST.get("lab_name", ""),
                                tested_on=request.POST.get("tested_on", ""),
                                tested_by=request.POST.get("tested_by", ""),
                                results=_result_rows(request.POST.get("results", "")),
                                report_file=request.FILES.get("report_file"))
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in exc.message_dict.values() for m in ms))
        return _back(merchant, product)
    messages.success(request, _("Lab report saved; it shows on the traceability page."))
    return _back(merchant, product)


@login_required
@require_POST
def product_action(request, merchant_id: int, product_id: int, action: str):
    merchant, product = _member_product(request, merchant_id, product_id)
    if action not in {"submit", "delist"}:
        messages.error(request, _("Unknown action."))
        return _back(merchant, product)
    form = ReasonForm(request.POST)
    form.is_valid()
    try:
        services.product_transition(product=product, action=action,
                                    reason=form.cleaned_data.get("reason", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Done: the product is now “%(s)s”.")
                         % {"s": product.get_status_display()})
    return _back(merchant, product)
