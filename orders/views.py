"""The shopper's buying pages (on the portal and every bank's storefront): cart, checkout,
orders and checkouts, receipt and refund requests, share links; and the buying box the
product page shows.

Thin: every write is an ``orders.services`` call, every read an ``orders.selectors`` call
scoped to the shopper (someone else's order or checkout is a 404). Anonymous carts are
found by the token kept in the session under ``CART_TOKEN``; they join the account's cart
at login (``orders.signals``).
"""

from __future__ import annotations

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from catalog import page_cache
from catalog import selectors as catalog_selectors
from catalog.qr import qr_svg
from core.errors import ApplicationError, first_message, validation_errors
from orders import selectors, services, sharing
from orders import selectors_returns as returns
from orders.models import CheckoutStatus, Fulfilment, OrderStatus, PriceKind
from orders.selectors_history import order_history
from orders.selectors_invoices import invoice_box
from orders.selectors_reviews import order_review_context

CART_TOKEN = "cart_token"


# --- helpers -------------------------------------------------------------------------------


def _buyer(request):
    return request.user if request.user.is_authenticated else None


def _cart_for_reading(request):
    """The shopper's cart if there is one (nothing is created)."""
    return selectors.cart_of(user=request.user, token=request.session.get(CART_TOKEN))


def _cart_for_writing(request):
    """The shopper's cart, made if needed; an anonymous cart's token goes in the session."""
    if request.user.is_authenticated:
        return services.cart_get_or_create(user=request.user)
    cart = services.cart_get_or_create(token=request.session.get(CART_TOKEN))
    if request.session.get(CART_TOKEN) != str(cart.token):
        request.session[CART_TOKEN] = str(cart.token)
    return cart


def _back(request, default: str):
    """Where a form came from (only this host), else ``default``."""
    for candidate in (request.POST.get("next"), request.META.get("HTTP_REFERER")):
        if candidate and url_has_allowed_host_and_scheme(
                candidate, allowed_hosts={request.get_host()},
                require_https=request.is_secure()):
            return redirect(candidate)
    return redirect(default)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    return first_message(validation_errors(exc)) or _("Please check your input.")


def _qr_data_uri(text: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(text, scale=6)).decode()


# --- the product page's buying box (registered with catalog in OrdersConfig.ready) -------


def product_buying_context(request, product, skus) -> dict:
    """Specification picker with prices and stock, a running flash sale's price and what
    is left of it, wholesale tiers for business buyers, and whether the shopper may share."""
    user = request.user
    business = user.is_authenticated and user.is_business_buyer
    options = []
    flash = selectors.product_flash_sales(skus=skus, buyer=user)
    # a page kept whole (catalog.page_cache) is not kept past a sale's start or end
    page_cache.expire_by(request, flash.next_change)
    for sku in skus:
        sale = flash.running.get(sku.pk)
        taken = flash.taken.get(sale.pk, 0) if sale else 0
        options.append({
            "sku": sku,
            "sale": sale,
            "sale_left": (sale.quantity - sale.sold) if sale else 0,
            # What this shopper may still take at the flash price (None: not signed in).
            "sale_room": (max(0, sale.per_customer_limit - taken)
                          if sale and user.is_authenticated else None),
            "price": sale.price if sale and sale.price < sku.price else sku.price,
            "tiers": list(sku.tiers.all()) if business else [],
            "in_stock": sku.stock > 0,
        })
    chosen = next((o["sku"].pk for o in options if o["in_stock"]), None)
    return {
        "buy": {
            "options": options,
            "chosen": chosen,
            "business": business,
            "can_share": user.is_authenticated and request.bank is not None,
        },
        "product_extras": ["orders/_buy_box.html"],
    }


# --- cart ----------------------------------------------------------------------------------


def cart(request):
    found = _cart_for_reading(request)
    view = selectors.cart_view(cart=found, buyer=_buyer(request)) if found else None
    return render(request, "orders/cart.html", {"view": view, "PriceKind": PriceKind})


@require_POST
def cart_add(request):
    cart_ = _cart_for_writing(request)
    try:
        item = services.cart_add(cart=cart_, sku_id=request.POST.get("sku"),
                                 quantity=request.POST.get("quantity") or 1)
    except (ValidationError, ApplicationError) as exc:
        messages.error(request, _error_text(exc))
        return _back(request, reverse("orders:cart"))
    if request.POST.get("action") == "buy":
        return redirect("orders:checkout")
    messages.success(request, _("Added %(name)s to your cart.")
                     % {"name": f"{item.sku.product.name} {item.sku.spec}"})
    return _back(request, reverse("orders:cart"))


@require_POST
def cart_update(request):
    found = _cart_for_reading(request)
    if found is None:
        messages.error(request, _("Your cart is empty."))
        return redirect("orders:cart")
    try:
        services.cart_set_quantity(cart=found, sku_id=request.POST.get("sku"),
                                   quantity=request.POST.get("quantity"))
    except (ValidationError, ApplicationError) as exc:
        messages.error(request, _error_text(exc))
    return redirect("orders:cart")


# --- checkout ------------------------------------------------------------------------------


def _last_address(user) -> dict:
    """What the new-address fields start with: the last order's delivery address."""
    last = (selectors.orders_of_buyer(buyer=user).filter(fulfilment=Fulfilment.DELIVERY)
            .values("recipient_name", "recipient_phone", "address").first())
    if last is not None:
        return last
    return {"recipient_name": user.display_name, "recipient_phone": user.phone, "address": ""}


def _checkout_groups(request, view, chosen: dict):
    """Each merchant's cart lines with the pickup branches the shopper may choose."""
    groups = []
    for group in view.groups:
        branches = list(selectors.pickup_branches(merchant=group.merchant,
                                                  storefront_bank=request.bank))
        method, branch_id = chosen.get(group.merchant.pk, (Fulfilment.DELIVERY, ""))
        groups.append({"group": group, "branches": branches, "method": method,
                       "branch_id": str(branch_id or "")})
    return groups


@login_required
def checkout(request):
    found = services.cart_get_or_create(user=request.user)
    view = selectors.cart_view(cart=found, buyer=request.user)
    if not view.groups:
        messages.info(request, _("Your cart is empty."))
        return redirect("orders:cart")
    errors: dict[str, list[str]] = {}
    unavailable = False
    address = _last_address(request.user)
    book = account_selectors.addresses_of(user=request.user)
    # A saved address (the default first) or, with "", the fields typed below.
    book_choice = str(book[0].pk) if book else ""
    chosen: dict[int, tuple[str, str]] = {}
    if request.method == "POST":
        address = {key: request.POST.get(key, "").strip()
                   for key in ("recipient_name", "recipient_phone", "address")}
        book_choice = request.POST.get("address_id", "").strip()
        fulfilment = {}
        for group in view.groups:
            mid = group.merchant.pk
            method = request.POST.get(f"method_{mid}", Fulfilment.DELIVERY)
            branch = request.POST.get(f"branch_{mid}", "")
            chosen[mid] = (method, branch)
            fulfilment[mid] = services.FulfilmentChoice(
                method=method, branch_id=branch if method == Fulfilment.PICKUP else None)
        try:
            delivery = (account_selectors.address_for_delivery(user=request.user,
                                                               address_id=book_choice)
                        if book_choice else address)
            placed = services.checkout_place(
                buyer=request.user, cart=found, storefront_bank=request.bank,
                fulfilment=fulfilment, delivery=services.DeliveryAddress(**delivery))
        except ValidationError as exc:
            errors = validation_errors(exc)
        except ApplicationError as exc:
            errors = {exc.field or "non_field_errors": [exc.message]}
            unavailable = exc.status_code == 503   # a flash sale's Redis: "try again"
        else:
            return redirect("payments:pay", placed.number)
    group_errors = {int(key.split(".", 1)[1]): msgs for key, msgs in errors.items()
                    if key.startswith("fulfilment.") and key.split(".", 1)[1].isdigit()}
    groups = _checkout_groups(request, view, chosen)
    for entry in groups:
        entry["errors"] = group_errors.get(entry["group"].merchant.pk, [])
    general = [m for key, msgs in errors.items()
               if key not in ("recipient_name", "recipient_phone", "address", "address_id")
               and not key.startswith("fulfilment.") for m in msgs]
    response = render(request, "orders/checkout.html", {
        "view": view, "groups": groups, "address": address, "errors": errors,
        "book": book, "book_choice": book_choice,
        "general_errors": general, "PriceKind": PriceKind,
    }, status=503 if unavailable else 400 if errors else 200)
    if unavailable:
        response["Retry-After"] = "1"
    return response


# --- orders and checkouts ------------------------------------------------------------------


@login_required
def order_list(request):
    page = Paginator(selectors.orders_of_buyer(buyer=request.user), 20).get_page(
        request.GET.get("page"))
    return render(request, "orders/order_list.html", {"page": page})


def _order_page(request, order, *, refund_errors=None, refund_data=None, status=200):
    actions = services.order_allowed_actions(order)
    pickup_qr = (_qr_data_uri(order.pickup_code)
                 if order.fulfilment == Fulfilment.PICKUP and order.pickup_code
                 and order.status == OrderStatus.READY_FOR_PICKUP else "")
    return render(request, "orders/order_detail.html", {
        "order": order,
        "lines": list(order.lines.all()),
        "events": order_history(order),
        "refunds": list(order.refunds.all()),
        "money": selectors.order_money(order),
        "thread": selectors.order_thread(order), "my_side": "buyer",
        "post_url": reverse("orders:order-message", args=[order.number]),
        "dispute_url": reverse("orders:order-dispute", args=[order.number]),
        "can_confirm": "confirm_receipt" in actions,
        "can_refund": "request_refund" in actions,
        "recall": selectors.order_recall_notice(order),
        "pickup_qr": pickup_qr,
        "refund_errors": refund_errors or {},
        "refund_data": refund_data or {"amount": order.refundable, "reason": ""},
        "PriceKind": PriceKind,
        **returns.order_page_context(request, order),
        **order_review_context(order=order, buyer=request.user,
                               form=getattr(request, "review_form", None)),
        "invoice_box": invoice_box(order=order),
    }, status=status)


@login_required
def order_detail(request, number: str):
    order = selectors.order_of_buyer(buyer=request.user, number=number)
    return _order_page(request, order)


@login_required
@require_POST
def order_confirm(request, number: str):
    order = selectors.order_of_buyer(buyer=request.user, number=number)
    try:
        services.order_confirm_receipt(order=order, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Thank you! Receipt confirmed."))
    return redirect("orders:order", order.number)


@login_required
@require_POST
def order_refund(request, number: str):
    order = selectors.order_of_buyer(buyer=request.user, number=number)
    data = {"amount": request.POST.get("amount", "").strip(),
            "reason": request.POST.get("reason", "").strip()}
    try:
        services.refund_request(order=order, actor=request.user, **data)
    except ValidationError as exc:
        order.refresh_from_db()
        return _order_page(request, order, refund_errors=validation_errors(exc),
                           refund_data=data, status=400)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("orders:order", order.number)
    messages.success(request, _("Refund requested. The shop will answer soon."))
    return redirect("orders:order", order.number)


@login_required
def checkout_detail(request, number: str):
    found = selectors.checkout_of_buyer(buyer=request.user, number=number)
    return render(request, "orders/checkout_detail.html", {
        "checkout": found,
        "orders": sorted(found.orders.all(), key=lambda o: o.number),
        "pending": found.status == CheckoutStatus.PENDING_PAYMENT,
    })


# --- share links ---------------------------------------------------------------------------


@login_required
@require_POST
def share(request):
    """The shopper's share link for a product (or a whole shop) on this bank's storefront,
    with a QR code and a poster to save."""
    if request.bank is None:
        raise Http404
    product = merchant = None
    try:
        if request.POST.get("merchant"):
            merchant = catalog_selectors.merchant_shop(
                merchant_id=int(request.POST.get("merchant", "")))
        else:
            product = catalog_selectors.product_detail(
                product_id=int(request.POST.get("product", "")))
    except ValueError:
        raise Http404 from None
    link = services.share_link_for(sharer=request.user, bank=request.bank, product=product,
                                   merchant=merchant)
    url = sharing.share_url(request, link)
    return render(request, "orders/share.html", {
        "product": product, "merchant": merchant, "link": link, "url": url,
        "qr": _qr_data_uri(url)})
