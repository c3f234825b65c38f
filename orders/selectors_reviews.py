"""Reads on reviews, per audience: the public (a product's visible reviews, the reviewer's
name masked), the buyer (their own reviews, hidden ones marked with the reason, and what
an order still lets them review), the shop's members (reviews of their products) and the
staff of the shop's bank (moderation). Every id goes through one of these: another
person's review, another shop's or another bank's is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from banks.models import Bank, StaffMembership
from catalog.models import Merchant, Product
from catalog.selectors import visible_products
from orders.models import (
    REVIEW_PHOTOS_MAX,
    REVIEW_REPLY_MAX,
    REVIEW_TEXT_MAX,
    Order,
    OrderLine,
    Review,
    ReviewPhoto,
)
from orders.services import order_reviewable

# Reviews listed on the product page; the rest are on its reviews page, PUBLIC_PER_PAGE each.
ON_PRODUCT_PAGE = 10
PUBLIC_PER_PAGE = 20


def _with_parts(qs: QuerySet[Review]) -> QuerySet[Review]:
    return (qs.select_related("buyer", "line", "product", "merchant")
            .prefetch_related(Prefetch("photos", queryset=ReviewPhoto.objects.order_by("id"))))


def reviewer_name(review: Review) -> str:
    """The reviewer as the public sees them: the first character of their name, masked."""
    name = review.buyer.shown_name if review.buyer_id else ""
    return (name[:1] or "*") + "**"


def product_rated(*, product_id: int) -> Product:
    """A product on sale with its rating (count and average); 404 otherwise."""
    product = visible_products().filter(pk=product_id).only(
        "pk", "name", "rating_count", "rating_avg").first()
    if product is None:
        raise Http404
    return product


def product_reviews(*, product_id: int) -> QuerySet[Review]:
    """The visible reviews of a product on sale, newest first; 404 if it is not on sale."""
    if not visible_products().filter(pk=product_id).exists():
        raise Http404
    return _with_parts(Review.objects.filter(product_id=product_id, hidden_at__isnull=True)
                       ).order_by("-created_at", "-id")


def reviews_of_buyer(*, buyer) -> QuerySet[Review]:
    return _with_parts(Review.objects.filter(buyer=buyer)).select_related("order")


def review_of_buyer(*, buyer, review_id: int) -> Review:
    review = reviews_of_buyer(buyer=buyer).filter(pk=review_id).first()
    if review is None:
        raise Http404
    return review


def reviews_of_merchant(*, merchant: Merchant) -> QuerySet[Review]:
    return _with_parts(Review.objects.filter(merchant=merchant)).select_related("order")


def review_of_merchant(*, merchant: Merchant, review_id: int) -> Review:
    review = reviews_of_merchant(merchant=merchant).filter(pk=review_id).first()
    if review is None:
        raise Http404
    return review


def bank_reviews(*, bank: Bank, hidden: str = "") -> QuerySet[Review]:
    """Reviews of the products of the bank's merchants (the ones its staff moderate);
    ``hidden``: "yes" only hidden ones, "no" only visible ones, else all."""
    qs = _with_parts(Review.objects.filter(merchant__bank=bank)).select_related(
        "order", "hidden_by")
    if hidden == "yes":
        qs = qs.filter(hidden_at__isnull=False)
    elif hidden == "no":
        qs = qs.filter(hidden_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def bank_review(*, bank: Bank, review_id: int) -> Review:
    review = bank_reviews(bank=bank).filter(pk=review_id).first()
    if review is None:
        raise Http404
    return review


def review_photo_for(*, photo_id: int, user) -> ReviewPhoto:
    """A review photo as this person may see it: anyone while the review is visible; a
    hidden review's photos only to its buyer, the shop's members and the staff of the
    shop's bank. 404 otherwise."""
    photo = (ReviewPhoto.objects.select_related("review__merchant").filter(pk=photo_id)
             .first())
    if photo is None:
        raise Http404
    review = photo.review
    if review.hidden_at is None:
        return photo
    if user.is_authenticated and (
            review.buyer_id == user.pk
            or review.merchant.members.filter(user=user).exists()
            or StaffMembership.objects.filter(user=user, bank_id=review.merchant.bank_id,
                                              is_active=True).exists()):
        return photo
    raise Http404


@dataclass
class OrderReviewEntry:
    """One product of an order, as the buyer may review it."""

    line: OrderLine
    product_id: int
    review: Review | None
    can_write: bool
    can_edit: bool


def order_review_box(*, order: Order, buyer) -> list[OrderReviewEntry]:
    """Per product of the buyer's order: their review, and whether they may write or edit
    one now (empty for someone else's order)."""
    if order.buyer_id != getattr(buyer, "pk", None):
        return []
    reviewable = order_reviewable(order)
    reviews = {r.product_id: r for r in _with_parts(Review.objects.filter(order=order))}
    entries: list[OrderReviewEntry] = []
    seen: set[int] = set()
    for line in order.lines.select_related("sku").all():
        product_id = line.sku.product_id
        if product_id in seen:
            continue
        seen.add(product_id)
        review = reviews.get(product_id)
        entries.append(OrderReviewEntry(
            line=line, product_id=product_id, review=review,
            can_write=reviewable and review is None,
            can_edit=review is not None and review.edited_at is None))
    return entries


STARS = [5, 4, 3, 2, 1]
LIMITS = {"text_max": REVIEW_TEXT_MAX, "reply_max": REVIEW_REPLY_MAX,
          "photos_max": REVIEW_PHOTOS_MAX, "stars": STARS}


def order_review_context(*, order: Order, buyer, form=None) -> dict:
    """What the order page's review box needs (``orders/reviews/_order_box.html``); a form
    just refused comes back with its input and messages."""
    return {"review_box": order_review_box(order=order, buyer=buyer),
            "review_form": form, "review_limits": LIMITS}
