"""Storefront pages (every bank's domain and the portal): home, category and search
listings, product, shop and traceability pages."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from banks.selectors import branch_list
from banks.views import portal_banks
from catalog import page_cache, selectors, services
from catalog.interfaces import product_page_extras
from catalog.models import Category
from catalog.qr import qr_png, qr_svg
from core.errors import first_message, validation_errors


def _listing_context(request, listing, *, title: str, category=None):
    params = request.GET.copy()
    params.pop("page", None)

    def link(**changes):
        merged = params.copy()
        for key, value in changes.items():
            if value in (None, ""):
                merged.pop(key, None)
            else:
                merged[key] = value
        merged.pop("page", None)
        encoded = merged.urlencode()
        return f"?{encoded}" if encoded else "?"

    lq = listing.query
    facets = listing.facets
    for entry in facets.get("origin", []):
        entry["link"] = link(origin="" if lq.origin == entry["value"] else entry["value"])
        entry["active"] = lq.origin == entry["value"]
    for entry in facets.get("bank", []):
        entry["link"] = link(bank="" if lq.bank == entry["value"] else entry["value"])
        entry["active"] = lq.bank == entry["value"]
    for entry in facets.get("price", []):
        entry["link"] = link(price="" if lq.price == entry["value"] else entry["value"])
        entry["active"] = lq.price == entry["value"]
    for entry in facets.get("category", []):
        entry["url"] = reverse("catalog:category", args=[entry["slug"]]) + (
            "?" + urlencode({"q": lq.q}) if lq.q else "")
    sorts = [(key, link(sort=key)) for key in selectors.SORTS]
    page_base = params.urlencode()
    return {
        "did_you_mean_link": ("?" + urlencode({"q": listing.did_you_mean})
                              if listing.did_you_mean else ""),
        "listing": listing, "lq": lq, "facets": facets, "title": title,
        "category": category, "sorts": sorts,
        "page_prefix": f"?{page_base}&page=" if page_base else "?page=",
        "categories": selectors.category_tree(),
    }


@page_cache.whole_page
def home(request):
    bank = request.bank
    context = {"categories": selectors.category_tree()}

    def body():
        if bank is not None:
            return render_to_string("catalog/_home_body.html", {
                "sections": selectors.storefront_home(host_bank=bank),
                "branches": branch_list(bank=bank)}, request=request)
        return render_to_string("catalog/_portal_body.html", {
            "sections": selectors.storefront_home(host_bank=None),
            "banks": portal_banks(request)}, request=request)

    context["body"] = page_cache.fragment(request, "home", (), body)
    return render(request, "catalog/storefront_home.html" if bank is not None
                  else "catalog/portal_home.html", context)


def _listing_page(request, context: dict, *, status: int = 200):
    """A listing page: its body (facets, cards, pager) rendered into the page."""
    context["body"] = render_to_string("catalog/_listing_body.html", context, request=request)
    return render(request, "catalog/listing.html", context, status=status)


def _refused_query(request, exc: ValidationError, *, category=None):
    """A query the search box would not have let through: the page says why (400)."""
    listing = selectors.Listing(products=[], total=0, page=1, pages=1,
                                query=selectors.ListingQuery(category=category))
    context = _listing_context(request, listing, title=category.name if category else "",
                               category=category)
    context["search_error"] = first_message(validation_errors(exc))
    return _listing_page(request, context, status=400)


@page_cache.whole_page
def search(request):
    try:
        lq = selectors.parse_listing_query(request.GET)
    except ValidationError as exc:
        return _refused_query(request, exc)
    listing = selectors.storefront_listing(host_bank=request.bank, lq=lq)
    # read by the traffic recorder: searches that found nothing are listed for the banks
    request.search_results = 0 if listing.partial else listing.total
    return _listing_page(request, _listing_context(request, listing, title=lq.q or ""))


@page_cache.whole_page
def category(request, slug: str):
    cat = get_object_or_404(Category, slug=slug)
    try:
        lq = selectors.parse_listing_query(request.GET, category=cat)
    except ValidationError as exc:
        return _refused_query(request, exc, category=cat)
    if lq.q:   # a search within the category: not cached (see catalog.page_cache)
        listing = selectors.storefront_listing(host_bank=request.bank, lq=lq)
        return _listing_page(request, _listing_context(request, listing, title=cat.name,
                                                       category=cat))

    def body():
        listing = selectors.storefront_listing(host_bank=request.bank, lq=lq)
        return render_to_string("catalog/_listing_body.html", _listing_context(
            request, listing, title=cat.name, category=cat), request=request)

    parts = (cat.pk, sorted(request.GET.lists()))
    return render(request, "catalog/listing.html", {
        "body": page_cache.fragment(request, "category", parts, body), "lq": lq,
        "category": cat, "categories": selectors.category_tree()})


@page_cache.whole_page
def product(request, product_id: int):
    item = selectors.product_detail(product_id=product_id)
    skus = list(item.skus.all())
    return render(request, "catalog/product.html", {
        "product": item,
        "kept": selectors.is_favourite(user=request.user, product_id=item.pk),
        "batch": selectors.current_batch(item),
        "skus": skus,
        "more": list(selectors.merchant_products(merchant=item.merchant)
                     .exclude(pk=item.pk)[:6]),
        # the buying box and the share button (registered by the orders app)
        **product_page_extras(request, item, skus),
    })


@page_cache.whole_page
def shop(request, merchant_id: int):
    merchant = selectors.merchant_shop(merchant_id=merchant_id)

    def products():
        return render_to_string("catalog/_shop_products.html", {
            "products": list(selectors.merchant_products(merchant=merchant)[:60])},
            request=request)

    return render(request, "catalog/shop.html", {
        "merchant": merchant,
        "kept": selectors.is_favourite(user=request.user, merchant_id=merchant.pk),
        "products_html": page_cache.fragment(request, "shop", (merchant.pk,), products),
    })


def _trace_url(request, batch) -> str:
    return request.build_absolute_uri(reverse("catalog:trace", args=[batch.trace_token]))


def trace(request, token):
    batch = selectors.batch_for_trace(token=token)
    return render(request, "catalog/trace.html", {
        "batch": batch, "product": batch.product, "trace_url": _trace_url(request, batch),
        "lab_reports": list(selectors.batch_lab_reports(batch=batch))})


@cache_control(max_age=86400, public=True)
def trace_qr(request, token, fmt: str):
    batch = selectors.batch_for_trace(token=token)
    url = _trace_url(request, batch)
    if fmt == "svg":
        return HttpResponse(qr_svg(url), content_type="image/svg+xml")
    return HttpResponse(qr_png(url), content_type="image/png")


# --- favourites (收藏) ----------------------------------------------------------------------


@login_required
def favourites(request):
    return render(request, "catalog/favourites.html", {
        "products": selectors.favourite_products(user=request.user),
        "shops": selectors.favourite_shops(user=request.user)})


def _int_or_none(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


@login_required
@require_POST
def favourite_toggle(request):
    """Keep or drop a product (``product``) or a shop (``merchant``); ``on`` is 1 or 0.
    Back to the page it came from."""
    product_id = _int_or_none(request.POST.get("product"))
    merchant_id = _int_or_none(request.POST.get("merchant"))
    if (product_id is None) == (merchant_id is None):
        return HttpResponseBadRequest(_("Choose a product or a shop."))
    on = request.POST.get("on") == "1"
    try:
        kept = services.favourite_set(user=request.user, on=on, product_id=product_id,
                                      merchant_id=merchant_id)
    except ObjectDoesNotExist:
        raise Http404 from None
    messages.success(request, _("Added to your favourites.") if kept
                     else _("Removed from your favourites."))
    fallback = (reverse("catalog:product", args=[product_id]) if product_id
                else reverse("catalog:shop", args=[merchant_id]))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = fallback
    return redirect(back)
