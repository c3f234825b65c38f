"""Reviews API under /api/v1/: a product's visible reviews (anyone); the buyer's reviews of
their completed orders (write, one edit, list); a shop's members' list and reply (on the
domain of the shop's bank); moderation by the staff of the shop's bank (hide with a reason,
show again). Pages call the same services and selectors (``orders.views_reviews``).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.permissions import IsBankStaff
from catalog.selectors import merchant_for_member
from core.api import PageQuerySerializer, valid
from core.uploads import UploadSerializerField
from orders import selectors, services
from orders import selectors_reviews as review_selectors
from orders.models import REVIEW_PHOTOS_MAX, REVIEW_REPLY_MAX, REVIEW_TEXT_MAX

MODERATORS = services.reviews.MODERATORS


# --- serializers -----------------------------------------------------------------------------


class ReviewSerializer(serializers.Serializer):
    """A review as the public sees it."""

    id = serializers.IntegerField()
    product = serializers.IntegerField(source="product_id")
    stars = serializers.IntegerField(min_value=1, max_value=5)
    text = serializers.CharField()
    reviewer = serializers.SerializerMethodField()
    spec = serializers.CharField(source="line.spec", help_text="the specification bought")
    photos = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    edited = serializers.SerializerMethodField()
    reply = serializers.CharField(help_text="the shop's public reply (empty: none)")
    replied_at = serializers.DateTimeField(allow_null=True)

    def get_reviewer(self, obj) -> str:
        return review_selectors.reviewer_name(obj)

    def get_photos(self, obj) -> list[str]:
        request = self.context.get("request")
        urls = [reverse("reviews:photo", args=[p.pk]) for p in obj.photos.all()]
        return [request.build_absolute_uri(u) for u in urls] if request else urls

    def get_edited(self, obj) -> bool:
        return obj.edited_at is not None


class OwnReviewSerializer(ReviewSerializer):
    """A review as its buyer, its shop or the shop's bank sees it."""

    order = serializers.CharField(source="order.number")
    product_name = serializers.CharField(source="line.product_name")
    hidden = serializers.SerializerMethodField()
    hidden_reason = serializers.CharField(help_text="why the bank hid it (empty: not hidden)")
    hidden_at = serializers.DateTimeField(allow_null=True)
    can_edit = serializers.SerializerMethodField(help_text="the one edit is still open")

    def get_hidden(self, obj) -> bool:
        return obj.hidden_at is not None

    def get_can_edit(self, obj) -> bool:
        return obj.edited_at is None


class ReviewPageSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = ReviewSerializer(many=True)


class OwnReviewPageSerializer(ReviewPageSerializer):
    results = OwnReviewSerializer(many=True)  # type: ignore[assignment]


class ProductReviewsSerializer(ReviewPageSerializer):
    rating_count = serializers.IntegerField()
    rating_avg = serializers.DecimalField(max_digits=3, decimal_places=2)


class ReviewInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(help_text="a product bought in this order")
    stars = serializers.IntegerField(min_value=1, max_value=5)
    text = serializers.CharField(max_length=REVIEW_TEXT_MAX, required=False, allow_blank=True,
                                 default="")
    photos = serializers.ListField(
        child=UploadSerializerField(policy="image"), required=False, default=list,
        max_length=REVIEW_PHOTOS_MAX,
        help_text=f"up to {REVIEW_PHOTOS_MAX} photos (multipart/form-data only)")


class ReviewEditInputSerializer(serializers.Serializer):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    text = serializers.CharField(max_length=REVIEW_TEXT_MAX, required=False, allow_blank=True,
                                 default="")
    photos = serializers.ListField(
        child=UploadSerializerField(policy="image"), required=False,
        max_length=REVIEW_PHOTOS_MAX,
        help_text="replace the photos (multipart/form-data only); left out, they stay")


class ReplyInputSerializer(serializers.Serializer):
    reply = serializers.CharField(max_length=REVIEW_REPLY_MAX)


class HideInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class ConsoleReviewQuerySerializer(PageQuerySerializer):
    hidden = serializers.ChoiceField(choices=[("yes", "yes"), ("no", "no")], required=False,
                                     allow_blank=True, default="",
                                     help_text="yes: hidden ones only; no: visible ones only")


class ConsoleReviewSerializer(OwnReviewSerializer):
    merchant = serializers.IntegerField(source="merchant_id")
    merchant_name = serializers.CharField(source="merchant.name")


class ConsoleReviewPageSerializer(ReviewPageSerializer):
    results = ConsoleReviewSerializer(many=True)  # type: ignore[assignment]


def _page(query: dict, queryset, serializer_class, request, **extra) -> dict:
    paginator = Paginator(queryset, query["per_page"])
    page = paginator.get_page(query["page"])
    return {"total": paginator.count, "page": page.number, "pages": paginator.num_pages,
            "results": serializer_class(page.object_list, many=True,
                                        context={"request": request}).data, **extra}


def _photos(data: dict):
    return data.get("photos")


# --- public ----------------------------------------------------------------------------------


class ProductReviewListApi(APIView):
    """A product's visible reviews, newest first, with its rating (hidden ones are left
    out of both)."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="product_reviews_list", parameters=[PageQuerySerializer],
                   responses=ProductReviewsSerializer)
    def get(self, request, product_id: int):
        query = valid(PageQuerySerializer, request.query_params)
        product = review_selectors.product_rated(product_id=product_id)
        reviews = review_selectors.product_reviews(product_id=product_id)
        return Response(_page(query, reviews, ReviewSerializer, request,
                              rating_count=product.rating_count,
                              rating_avg=product.rating_avg))


# --- buyer -----------------------------------------------------------------------------------


class OrderReviewCreateApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request={"application/json": ReviewInputSerializer,
                 "multipart/form-data": ReviewInputSerializer},
        responses={201: OwnReviewSerializer},
        description="The buyer reviews a product of this order once receipt is confirmed "
                    "(one review per order and product). 404: not your order; 400 with "
                    "code not_bought, not_completed or already_reviewed.")
    def post(self, request, number: str):
        order = selectors.order_of_buyer(buyer=request.user, number=number)
        data = valid(ReviewInputSerializer, request.data)
        review = services.review_create(order=order, buyer=request.user,
                                        product_id=data["product"], stars=data["stars"],
                                        text=data["text"], photos=_photos(data))
        review = review_selectors.review_of_buyer(buyer=request.user, review_id=review.pk)
        return Response(OwnReviewSerializer(review, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class MyReviewListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="my_reviews_list", parameters=[PageQuerySerializer],
                   responses=OwnReviewPageSerializer,
                   description="My reviews, newest first; hidden ones say why.")
    def get(self, request):
        query = valid(PageQuerySerializer, request.query_params)
        return Response(_page(query, review_selectors.reviews_of_buyer(buyer=request.user),
                              OwnReviewSerializer, request))


class MyReviewApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser]

    def review(self, request, review_id: int):
        return review_selectors.review_of_buyer(buyer=request.user, review_id=review_id)

    @extend_schema(responses=OwnReviewSerializer)
    def get(self, request, review_id: int):
        return Response(OwnReviewSerializer(self.review(request, review_id),
                                            context={"request": request}).data)

    @extend_schema(
        request={"application/json": ReviewEditInputSerializer,
                 "multipart/form-data": ReviewEditInputSerializer},
        responses=OwnReviewSerializer,
        description="The one edit of my review; a second is refused (400, code "
                    "already_edited).")
    def patch(self, request, review_id: int):
        review = self.review(request, review_id)
        data = valid(ReviewEditInputSerializer, request.data)
        services.review_edit(review=review, buyer=request.user, stars=data["stars"],
                             text=data["text"], photos=_photos(data))
        return Response(OwnReviewSerializer(self.review(request, review_id),
                                            context={"request": request}).data)


# --- merchant --------------------------------------------------------------------------------


class _MerchantReviewApi(APIView):
    permission_classes = [IsAuthenticated]

    def merchant(self, request, merchant_id: int):
        return merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)


class MerchantReviewListApi(_MerchantReviewApi):
    @extend_schema(operation_id="merchant_reviews_list", parameters=[PageQuerySerializer],
                   responses=OwnReviewPageSerializer,
                   description="Reviews of the shop's products, newest first (hidden ones "
                               "too, marked).")
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        query = valid(PageQuerySerializer, request.query_params)
        return Response(_page(query, review_selectors.reviews_of_merchant(merchant=merchant),
                              OwnReviewSerializer, request))


class MerchantReviewReplyApi(_MerchantReviewApi):
    @extend_schema(request=ReplyInputSerializer, responses=OwnReviewSerializer,
                   description="The shop's public reply to a review (writing it again "
                               "replaces it).")
    def put(self, request, merchant_id: int, review_id: int):
        merchant = self.merchant(request, merchant_id)
        review = review_selectors.review_of_merchant(merchant=merchant, review_id=review_id)
        data = valid(ReplyInputSerializer, request.data)
        services.review_reply(review=review, actor=request.user, reply=data["reply"])
        review = review_selectors.review_of_merchant(merchant=merchant, review_id=review_id)
        return Response(OwnReviewSerializer(review, context={"request": request}).data)


# --- bank staff ------------------------------------------------------------------------------


class ConsoleReviewListApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(operation_id="console_reviews_list",
                   parameters=[ConsoleReviewQuerySerializer],
                   responses=ConsoleReviewPageSerializer,
                   description="Reviews of the products of our bank's merchants.")
    def get(self, request):
        query = valid(ConsoleReviewQuerySerializer, request.query_params)
        return Response(_page(query, review_selectors.bank_reviews(
            bank=request.bank, hidden=query["hidden"]), ConsoleReviewSerializer, request))


class ConsoleReviewHideApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = MODERATORS

    @extend_schema(request=HideInputSerializer, responses=ConsoleReviewSerializer,
                   description="Hides a review of one of our merchants' products from the "
                               "public pages and the ratings, with a reason its buyer "
                               "sees (account managers and bank admins).")
    def post(self, request, review_id: int):
        review = review_selectors.bank_review(bank=request.bank, review_id=review_id)
        data = valid(HideInputSerializer, request.data)
        services.review_hide(review=review, actor=request.user, reason=data["reason"])
        review = review_selectors.bank_review(bank=request.bank, review_id=review_id)
        return Response(ConsoleReviewSerializer(review, context={"request": request}).data)


class ConsoleReviewUnhideApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = MODERATORS

    @extend_schema(request=None, responses=ConsoleReviewSerializer,
                   description="Shows a hidden review again.")
    def post(self, request, review_id: int):
        review = review_selectors.bank_review(bank=request.bank, review_id=review_id)
        services.review_unhide(review=review, actor=request.user)
        review = review_selectors.bank_review(bank=request.bank, review_id=review_id)
        return Response(ConsoleReviewSerializer(review, context={"request": request}).data)
