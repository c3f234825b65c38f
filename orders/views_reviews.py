"""Reviews pages: the reviews section of the product page and a product's reviews page
(anyone), the buyer's review form on their order page, the one edit and "my reviews",
the shop's reviews with its reply (merchant console) and moderation in the bank console.

Thin: every write is an ``orders.services`` call, every read an
``orders.selectors_reviews`` call scoped to the person (404 for anyone else's). A refused
input shows its message on the page (status 400) and changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from banks.permissions import bank_staff_required
from catalog.selectors import merchant_for_member
from core import uploads
from core.errors import ApplicationError, first_message, validation_errors
from orders import selectors, services
from orders import selectors_reviews as review_selectors
from orders.models import review_storage
from orders.views import _order_page

MODERATORS = services.reviews.MODERATORS
# The order history's words for review events (shopper's, shop's and bank's order pages).


def _errors(exc: Exception) -> dict[str, list[str]]:
    if isinstance(exc, ApplicationError):
        return {exc.field or "non_field_errors": [exc.message]}
    return validation_errors(exc)


def _page(request, qs, per_page: int = 20):
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


# --- product page (registered with catalog in OrdersConfig.ready) ---------------------------


def product_reviews_context(request, product, skus) -> dict:
    """The latest visible reviews under the product's description, with a link to all."""
    reviews = review_selectors.product_reviews(product_id=product.pk)
    latest = list(reviews[:review_selectors.ON_PRODUCT_PAGE])
    for review in latest:
        review.reviewer = review_selectors.reviewer_name(review)
    return {"reviews_section": {"latest": latest, "product": product,
                                "more": product.rating_count > len(latest)},
            "product_sections": ["orders/reviews/_product_reviews.html"]}


def product_reviews(request, product_id: int):
    product = review_selectors.product_rated(product_id=product_id)
    page = _page(request, review_selectors.product_reviews(product_id=product_id),
                 review_selectors.PUBLIC_PER_PAGE)
    for review in page:
        review.reviewer = review_selectors.reviewer_name(review)
    return render(request, "orders/reviews/product.html", {"product": product, "page": page})


def review_photo(request, photo_id: int):
    photo = review_selectors.review_photo_for(photo_id=photo_id, user=request.user)
    return uploads.serve_file(review_storage(), photo.image.name,
                              private=photo.review.hidden_at is not None)


# --- the buyer -------------------------------------------------------------------------------


@login_required
@require_POST
def order_review_write(request, number: str):
    order = selectors.order_of_buyer(buyer=request.user, number=number)
    data = {"product": request.POST.get("product", ""), "stars": request.POST.get("stars"),
            "text": request.POST.get("text", "")}
    try:
        services.review_create(order=order, buyer=request.user, product_id=data["product"],
                               stars=data["stars"], text=data["text"],
                               photos=request.FILES.getlist("photos"))
    except (ValidationError, ApplicationError) as exc:
        request.review_form = {**data, "errors": _errors(exc)}
        return _order_page(request, order, status=400)
    messages.success(request, _("Thank you for your review!"))
    return redirect(reverse("orders:order", args=[order.number]) + "#reviews")


@login_required
def review_edit(request, review_id: int):
    review = review_selectors.review_of_buyer(buyer=request.user, review_id=review_id)
    data = {"stars": review.stars, "text": review.text}
    errors: dict = {}
    if request.method == "POST":
        data = {"stars": request.POST.get("stars"), "text": request.POST.get("text", "")}
        photos = request.FILES.getlist("photos") if request.POST.get("replace_photos") else None
        try:
            services.review_edit(review=review, buyer=request.user, stars=data["stars"],
                                 text=data["text"], photos=photos)
        except (ValidationError, ApplicationError) as exc:
            errors = _errors(exc)
        else:
            messages.success(request, _("Your review is updated."))
            return redirect("reviews:mine")
    return render(request, "orders/reviews/edit.html", {
        "review": review, "data": data, "errors": errors, "message": first_message(errors),
        **review_selectors.LIMITS}, status=400 if errors else 200)


@login_required
def my_reviews(request):
    return render(request, "orders/reviews/mine.html", {
        "page": _page(request, review_selectors.reviews_of_buyer(buyer=request.user))})


# --- the shop --------------------------------------------------------------------------------


def _merchant_page(request, merchant, *, status=200, bound=None):
    return render(request, "orders/reviews/merchant.html", {
        "merchant": merchant, "bound": bound or {},
        "reply_max": review_selectors.LIMITS["reply_max"],
        "page": _page(request, review_selectors.reviews_of_merchant(merchant=merchant))},
        status=status)


@login_required
def merchant_reviews(request, merchant_id: int):
    merchant = merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)
    return _merchant_page(request, merchant)


@login_required
@require_POST
def merchant_reply(request, merchant_id: int, review_id: int):
    merchant = merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)
    review = review_selectors.review_of_merchant(merchant=merchant, review_id=review_id)
    reply = request.POST.get("reply", "")
    try:
        services.review_reply(review=review, actor=request.user, reply=reply)
    except (ValidationError, ApplicationError) as exc:
        return _merchant_page(request, merchant, status=400, bound={
            "id": review.pk, "reply": reply, "message": first_message(_errors(exc))})
    messages.success(request, _("Your reply is published."))
    return redirect(reverse("reviews_console:merchant", args=[merchant.pk])
                    + f"#review-{review.pk}")


# --- the bank console ------------------------------------------------------------------------


def _console_page(request, *, status=200, bound=None):
    hidden = request.GET.get("hidden", "")
    hidden = hidden if hidden in ("yes", "no") else ""
    return render(request, "orders/reviews/console.html", {
        "membership": request.membership, "hidden": hidden, "bound": bound or {},
        "can_moderate": request.membership.role in (*MODERATORS, "bank_admin"),
        "page": _page(request, review_selectors.bank_reviews(bank=request.bank,
                                                             hidden=hidden), 30)},
        status=status)


@bank_staff_required()
def console_reviews(request):
    return _console_page(request)


def _back_to_console(request, review_id: int):
    return redirect(reverse("reviews_console:moderation") + f"#review-{review_id}")


@bank_staff_required(*MODERATORS)
@require_POST
def console_hide(request, review_id: int):
    review = review_selectors.bank_review(bank=request.bank, review_id=review_id)
    reason = request.POST.get("reason", "")
    try:
        services.review_hide(review=review, actor=request.user, reason=reason)
    except (ValidationError, ApplicationError) as exc:
        return _console_page(request, status=400, bound={
            "id": review.pk, "reason": reason, "message": first_message(_errors(exc))})
    messages.success(request, _("The review is hidden."))
    return _back_to_console(request, review.pk)


@bank_staff_required(*MODERATORS)
@require_POST
def console_unhide(request, review_id: int):
    review = review_selectors.bank_review(bank=request.bank, review_id=review_id)
    try:
        services.review_unhide(review=review, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The review is shown again."))
    return _back_to_console(request, review.pk)
