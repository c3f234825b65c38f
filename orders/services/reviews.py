"""Reviews and ratings: a buyer reviews a product of a completed order (stars, text, up to
three photos) and may edit it once; the shop replies; staff of the shop's bank hide a
review with a reason (and show it again). Every write recounts the product's and the
shop's ratings from the visible reviews (``catalog.services.rating_refresh``) in the same
transaction and leaves an event in the order's history (kinds ``review``,
``review_edit``, ``review_reply``, ``review_hide``, ``review_unhide``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog import services as catalog_services
from core import uploads
from core.errors import ApplicationError
from orders.models import (
    REVIEW_PHOTOS_MAX,
    REVIEW_REPLY_MAX,
    REVIEW_TEXT_MAX,
    Order,
    OrderEvent,
    OrderStatus,
    Review,
    ReviewPhoto,
)

REASON_MAX = 300
# Bank staff who moderate reviews (besides bank admins): account managers, who look after
# the bank's merchants.
MODERATORS = ("account_manager",)


def order_reviewable(order: Order) -> bool:
    """The buyer confirmed receipt (or it was confirmed automatically) and the order was
    not refunded in full: what was bought may be reviewed. A refund request open on a
    completed order does not take that away."""
    return order.completed_at is not None and order.status in (
        OrderStatus.COMPLETED, OrderStatus.REFUND_REQUESTED)


def _clean_stars(stars) -> int:
    if isinstance(stars, bool):
        stars = None
    try:
        value = int(stars)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5:
        raise ValidationError({"stars": [_("Give one to five stars.")]})
    return value


def _clean_text(text) -> str:
    text = (text or "").strip()
    if len(text) > REVIEW_TEXT_MAX:
        raise ValidationError({"text": [
            _("At most %(n)d characters.") % {"n": REVIEW_TEXT_MAX}]})
    return text


def _check_photos(photos) -> list:
    photos = [p for p in (photos or []) if p]
    if len(photos) > REVIEW_PHOTOS_MAX:
        raise ValidationError({"photos": [
            _("At most %(n)d photos.") % {"n": REVIEW_PHOTOS_MAX}]})
    for photo in photos:  # all of them before any is stored
        try:
            uploads.check(photo, "image")
        except ValidationError as exc:
            raise ValidationError({"photos": exc.messages}) from exc
    return photos


def _store_photos(review: Review, photos: list) -> None:
    for photo in photos:
        row = ReviewPhoto(review=review)
        uploads.attach(row, "image", photo, save=False)
        row.save()


def _refresh_rating(review: Review) -> None:
    catalog_services.rating_refresh(product_id=review.product_id,
                                    visible=Review.objects.filter(hidden_at__isnull=True))


def _event(review: Review, kind: str, *, actor, note: str = "", detail: dict | None = None):
    OrderEvent.objects.create(order_id=review.order_id, kind=kind, actor=actor,
                              note=note[:300], at=timezone.now(),
                              detail={"review": review.pk, "product": review.product_id,
                                      **(detail or {})})


def _locked(review: Review) -> Review:
    return Review.objects.select_for_update().get(pk=review.pk)


@transaction.atomic
def review_create(*, order: Order, buyer, product_id, stars, text: str = "",
                  photos=()) -> Review:
    """The buyer's review of ``product_id`` as bought in ``order`` (theirs, completed)."""
    stars, text, photos = _clean_stars(stars), _clean_text(text), _check_photos(photos)
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.buyer_id != getattr(buyer, "pk", None):
        # Callers look the order up among the buyer's own: this is a second guard.
        raise ApplicationError(_("Only the buyer of an order may review it."),
                               code="not_buyer")
    line = next((ln for ln in order.lines.select_related("sku")
                 if str(ln.sku.product_id) == str(product_id)), None)
    if line is None:
        raise ApplicationError(_("This product was not bought in this order."),
                               field="product", code="not_bought")
    if not order_reviewable(order):
        raise ApplicationError(
            _("You can review an order once you have confirmed receiving it."),
            code="not_completed")
    if Review.objects.filter(order=order, product_id=line.sku.product_id).exists():
        raise ApplicationError(_("You have already reviewed this product for this order."),
                               code="already_reviewed")
    try:
        with transaction.atomic():
            review = Review.objects.create(order=order, line=line,
                                           product_id=line.sku.product_id,
                                           merchant_id=order.merchant_id, buyer=buyer,
                                           stars=stars, text=text)
    except IntegrityError:  # pragma: no cover - the order's lock serialises this
        raise ApplicationError(_("You have already reviewed this product for this order."),
                               code="already_reviewed") from None
    _store_photos(review, photos)
    _event(review, "review", actor=buyer, detail={"stars": stars})
    _refresh_rating(review)
    return review


@transaction.atomic
def review_edit(*, review: Review, buyer, stars, text: str = "", photos=None) -> Review:
    """The buyer's one edit: new stars and text; ``photos`` given (even empty) replace the
    photos. A second edit is refused."""
    stars, text = _clean_stars(stars), _clean_text(text)
    photos = _check_photos(photos) if photos is not None else None
    review = _locked(review)
    if review.buyer_id != getattr(buyer, "pk", None):
        raise ApplicationError(_("Only its author may edit a review."), code="not_buyer")
    if review.edited_at is not None:
        raise ApplicationError(_("A review can be edited once, and this one was."),
                               code="already_edited")
    before = review.stars
    review.stars, review.text, review.edited_at = stars, text, timezone.now()
    review.save(update_fields=["stars", "text", "edited_at"])
    if photos is not None:
        review.photos.all().delete()
        _store_photos(review, photos)
    _event(review, "review_edit", actor=buyer, detail={"stars": stars, "before": before})
    _refresh_rating(review)
    return review


@transaction.atomic
def review_reply(*, review: Review, actor, reply: str) -> Review:
    """The shop's public reply (one, which its members may rewrite)."""
    reply = (reply or "").strip()
    if not reply:
        raise ValidationError({"reply": [_("Write the reply.")]})
    if len(reply) > REVIEW_REPLY_MAX:
        raise ValidationError({"reply": [
            _("At most %(n)d characters.") % {"n": REVIEW_REPLY_MAX}]})
    review = _locked(review)
    kind_detail = {"first": not review.reply}
    review.reply, review.replied_at, review.replied_by = reply, timezone.now(), actor
    review.save(update_fields=["reply", "replied_at", "replied_by"])
    _event(review, "review_reply", actor=actor, detail=kind_detail)
    return review


@transaction.atomic
def review_hide(*, review: Review, actor, reason: str) -> Review:
    """Staff of the shop's bank take a review off the public pages and the ratings."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the review is hidden.")]})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": [_("At most %(n)d characters.") % {"n": REASON_MAX}]})
    review = _locked(review)
    if review.hidden_at is not None:
        raise ApplicationError(_("This review is already hidden."), code="already_hidden")
    review.hidden_at, review.hidden_reason, review.hidden_by = timezone.now(), reason, actor
    review.save(update_fields=["hidden_at", "hidden_reason", "hidden_by"])
    _event(review, "review_hide", actor=actor, note=reason)
    _refresh_rating(review)
    return review


@transaction.atomic
def review_unhide(*, review: Review, actor) -> Review:
    review = _locked(review)
    if review.hidden_at is None:
        raise ApplicationError(_("This review is not hidden."), code="not_hidden")
    reason = review.hidden_reason
    review.hidden_at, review.hidden_reason, review.hidden_by = None, "", None
    review.save(update_fields=["hidden_at", "hidden_reason", "hidden_by"])
    _event(review, "review_unhide", actor=actor, detail={"was_hidden_for": reason})
    _refresh_rating(review)
    return review
