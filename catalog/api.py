"""Catalog API: public reads (every host) and the merchant's product management (on the
domain of the merchant's bank, members only)."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import selectors, services
from catalog.models import UNITS, Category
from catalog.serializers import (
    CategorySerializer,
    MerchantBriefSerializer,
    MerchantProductSerializer,
    MerchantSkuSerializer,
    ProductCardSerializer,
    ProductDetailSerializer,
    ShopSerializer,
    TraceSerializer,
)
from core.api import valid
from core.uploads import UploadSerializerField


class CategoryListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=CategorySerializer(many=True))
    def get(self, request):
        return Response(CategorySerializer(selectors.category_tree(), many=True).data)


class ProductListApi(APIView):
    """Listing and search: the same as the storefront (host bank's merchants first)."""

    permission_classes = [AllowAny]

    class ListingSerializer(serializers.Serializer):
        total = serializers.IntegerField()
        page = serializers.IntegerField()
        pages = serializers.IntegerField()
        results = ProductCardSerializer(many=True, source="products")
        facets = serializers.DictField()
        partial = serializers.BooleanField(
            help_text="No product matches every word: the products matching most are shown")
        did_you_mean = serializers.CharField(help_text="A corrected query, or empty")
        popular = ProductCardSerializer(many=True,
                                        help_text="Best sellers, when nothing was found")

    @extend_schema(
        operation_id="catalog_products_list",
        parameters=[OpenApiParameter(n, str, required=False) for n in
                    ("q", "category", "origin", "price", "bank", "sort", "page", "per_page")],
        responses=ListingSerializer)
    def get(self, request):
        category = None
        if request.query_params.get("category"):
            category = Category.objects.filter(slug=request.query_params["category"]).first()
            if category is None:  # a filter that names nothing: bad input, not a missing page
                raise DjangoValidationError({"category": [_("No such category.")]})
        # an over-long q is a ValidationError on q (400), as on the page
        lq = selectors.parse_listing_query(request.query_params, category=category)
        listing = selectors.storefront_listing(host_bank=request.bank, lq=lq)
        return Response(self.ListingSerializer(listing).data)


class SuggestApi(APIView):
    """Completions of what a shopper is typing in the search box (characters or pinyin)."""

    permission_classes = [AllowAny]

    class SuggestionSerializer(serializers.Serializer):
        text = serializers.CharField()
        kind = serializers.ChoiceField(choices=["category", "term", "product"])
        slug = serializers.CharField(required=False)

    class SuggestResponseSerializer(serializers.Serializer):
        q = serializers.CharField()
        suggestions = serializers.ListField(child=serializers.DictField())

    @extend_schema(operation_id="catalog_suggest",
                   parameters=[OpenApiParameter(
                       "q", str, description="What is typed so far (none: no suggestions).")],
                   responses=SuggestResponseSerializer)
    def get(self, request):
        q = request.query_params.get("q", "")
        suggestions = selectors.search_suggestions(q, host_bank=request.bank)
        return Response({"q": q, "suggestions": self.SuggestionSerializer(
            suggestions, many=True).data})


class ProductDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ProductDetailSerializer)
    def get(self, request, product_id: int):
        product = selectors.product_detail(product_id=product_id)
        return Response(ProductDetailSerializer(product, context={"request": request}).data)


class ShopApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ShopSerializer)
    def get(self, request, merchant_id: int):
        return Response(ShopSerializer(selectors.merchant_shop(merchant_id=merchant_id)).data)


class TraceApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=TraceSerializer)
    def get(self, request, token):
        batch = selectors.batch_for_trace(token=token)
        return Response(TraceSerializer(batch, context={"request": request}).data)


# --- favourites (收藏), the signed-in shopper's own ----------------------------------------


class FavouritesSerializer(serializers.Serializer):
    products = ProductCardSerializer(many=True, help_text="kept products still on sale")
    shops = MerchantBriefSerializer(many=True, help_text="kept shops still trading")


class KeptSerializer(serializers.Serializer):
    kept = serializers.BooleanField()


class FavouriteListApi(APIView):
    @extend_schema(responses=FavouritesSerializer)
    def get(self, request):
        return Response(FavouritesSerializer({
            "products": selectors.favourite_products(user=request.user),
            "shops": selectors.favourite_shops(user=request.user)}).data)


class _FavouriteApi(APIView):
    target = "product_id"

    def _set(self, request, pk: int, *, on: bool):
        try:
            kept = services.favourite_set(user=request.user, on=on, **{self.target: pk})
        except ObjectDoesNotExist:
            raise NotFound from None
        return Response(KeptSerializer({"kept": kept}).data)

    @extend_schema(request=None, responses=KeptSerializer,
                   description="Keep it (again: no change); 404 if it is not on sale.")
    def put(self, request, pk: int):
        return self._set(request, pk, on=True)

    @extend_schema(request=None, responses={200: KeptSerializer},
                   description="Drop it (not kept: no change).")
    def delete(self, request, pk: int):
        return self._set(request, pk, on=False)


class FavouriteProductApi(_FavouriteApi):
    target = "product_id"


class FavouriteShopApi(_FavouriteApi):
    target = "merchant_id"


# --- merchant product management ---------------------------------------------------------

class SkuInputSerializer(serializers.Serializer):
    spec = serializers.CharField(max_length=60)
    unit = serializers.ChoiceField(choices=UNITS)
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    stock = serializers.IntegerField(default=0)
    tiers = serializers.ListField(child=serializers.ListField(
        child=serializers.DecimalField(max_digits=12, decimal_places=2), min_length=2,
        max_length=2), required=False, default=list,
        help_text="[[min_quantity, unit_price], ...]")

    @staticmethod
    def spec_of(d: dict) -> services.SkuSpec:
        return services.SkuSpec(spec=d["spec"], unit=d["unit"], price=d["price"],
                                stock=d["stock"],
                                tiers=[(int(q), p) for q, p in d["tiers"]])


class ProductInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    name_en = serializers.CharField(max_length=120, required=False, default="",
                                    allow_blank=True)
    aliases = serializers.CharField(max_length=200, required=False, default="",
                                    allow_blank=True,
                                    help_text="Other names shoppers use, separated by commas")
    category = serializers.SlugRelatedField(slug_field="slug", queryset=Category.objects.all())
    subtitle = serializers.CharField(max_length=200, required=False, default="")
    description = serializers.CharField(required=False, default="", allow_blank=True)
    origin_province = serializers.CharField(max_length=30, required=False, default="")
    origin_county = serializers.CharField(max_length=60)
    origin_township = serializers.CharField(max_length=60, required=False, default="")
    gi_label = serializers.CharField(max_length=80, required=False, default="")


class BatchInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    harvest_date = serializers.DateField()
    farm = serializers.CharField(max_length=100)
    plot = serializers.CharField(max_length=100, required=False, default="")
    inputs = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    lab_report = serializers.CharField(required=False, default="", allow_blank=True)
    inspection_report = serializers.CharField(required=False, default="", allow_blank=True)


class _MemberApi(APIView):
    permission_classes = [IsAuthenticated]

    def merchant(self, request, merchant_id: int):
        return selectors.merchant_for_member(user=request.user, bank=request.bank,
                                             merchant_id=merchant_id)

    def product(self, request, merchant_id: int, product_id: int):
        return selectors.product_for_member(merchant=self.merchant(request, merchant_id),
                                            product_id=product_id)

    def product_data(self, request, product):
        product = selectors.product_for_member(merchant=product.merchant,
                                               product_id=product.pk)
        return MerchantProductSerializer(product, context={"request": request}).data


class MerchantProductListApi(_MemberApi):
    class CreateSerializer(ProductInputSerializer):
        skus = SkuInputSerializer(many=True)

    @extend_schema(responses=MerchantProductSerializer(many=True))
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        return Response(MerchantProductSerializer(
            selectors.products_of_merchant(merchant=merchant), many=True,
            context={"request": request}).data)

    @extend_schema(request=CreateSerializer, responses={201: MerchantProductSerializer})
    def post(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        data = valid(self.CreateSerializer, request.data)
        data["skus"] = [SkuInputSerializer.spec_of(s) for s in data["skus"]]
        product = services.product_create(merchant=merchant, **data)
        return Response(self.product_data(request, product), status=status.HTTP_201_CREATED)


class MerchantProductDetailApi(_MemberApi):
    @extend_schema(responses=MerchantProductSerializer)
    def get(self, request, merchant_id: int, product_id: int):
        return Response(self.product_data(request, self.product(request, merchant_id,
                                                                product_id)))

    @extend_schema(request=ProductInputSerializer, responses=MerchantProductSerializer)
    def put(self, request, merchant_id: int, product_id: int):
        product = self.product(request, merchant_id, product_id)
        data = valid(ProductInputSerializer, request.data)
        services.product_update(product=product, **data)
        return Response(self.product_data(request, product))


class MerchantSkuCreateApi(_MemberApi):
    @extend_schema(request=SkuInputSerializer, responses={201: MerchantSkuSerializer})
    def post(self, request, merchant_id: int, product_id: int):
        product = self.product(request, merchant_id, product_id)
        data = valid(SkuInputSerializer, request.data)
        sku = services.sku_add(product=product,
                               spec=SkuInputSerializer.spec_of(data))
        return Response(MerchantSkuSerializer(sku).data, status=status.HTTP_201_CREATED)


class MerchantStockApi(_MemberApi):
    class StockSerializer(serializers.Serializer):
        on_hand = serializers.IntegerField(
            min_value=0, required=False,
            help_text="units counted on the shelf, reserved ones included; refused below "
                      "`reserved`")
        stock = serializers.IntegerField(min_value=0, required=False,
                                         help_text="the former name of `on_hand`")

        def validate(self, attrs):
            if "on_hand" not in attrs and "stock" not in attrs:
                raise serializers.ValidationError({"on_hand": [_("Enter the count.")]})
            return attrs

    @extend_schema(request=StockSerializer, responses=MerchantSkuSerializer)
    def put(self, request, merchant_id: int, product_id: int, sku_id: int):
        product = self.product(request, merchant_id, product_id)
        sku = get_object_or_404(product.skus.all(), pk=sku_id)
        data = valid(self.StockSerializer, request.data)
        return Response(MerchantSkuSerializer(services.stock_set(
            sku=sku, on_hand=data.get("on_hand", data.get("stock")))).data)


class MerchantBatchCreateApi(_MemberApi):
    @extend_schema(request=BatchInputSerializer, responses={201: TraceSerializer})
    def post(self, request, merchant_id: int, product_id: int):
        product = self.product(request, merchant_id, product_id)
        data = valid(BatchInputSerializer, request.data)
        batch = services.batch_create(product=product, **data)
        return Response(TraceSerializer(batch, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class LabResultSerializer(serializers.Serializer):
    item = serializers.CharField(max_length=60, help_text="e.g. 农药残留, 重金属, 水分")
    value = serializers.CharField(max_length=30)
    unit = serializers.CharField(max_length=20, required=False, default="", allow_blank=True)
    limit = serializers.CharField(max_length=30, required=False, default="", allow_blank=True)
    passed = serializers.BooleanField()


class LabReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    batch = serializers.IntegerField(source="batch_id")
    lab_name = serializers.CharField()
    tested_on = serializers.DateField()
    tested_by = serializers.CharField()
    passed = serializers.BooleanField(help_text="true when every result passed")
    results = LabResultSerializer(many=True, source="results.all")


class LabReportInputSerializer(serializers.Serializer):
    lab_name = serializers.CharField(max_length=100)
    tested_on = serializers.DateField()
    tested_by = serializers.CharField(max_length=60, required=False, default="",
                                      allow_blank=True)
    results = LabResultSerializer(many=True, allow_empty=False)


class MerchantLabReportsApi(_MemberApi):
    def batch(self, request, merchant_id: int, product_id: int, batch_id: int):
        product = self.product(request, merchant_id, product_id)
        return get_object_or_404(product.batches.all(), pk=batch_id)

    @extend_schema(operation_id="merchant_lab_reports_list",
                   responses=LabReportSerializer(many=True))
    def get(self, request, merchant_id: int, product_id: int, batch_id: int):
        batch = self.batch(request, merchant_id, product_id, batch_id)
        return Response(LabReportSerializer(selectors.batch_lab_reports(batch=batch),
                                            many=True).data)

    @extend_schema(operation_id="merchant_lab_reports_add", request=LabReportInputSerializer,
                   responses={201: LabReportSerializer},
                   description="Records a lab report of the batch (at least one result; the "
                               "report passes when every result does). Shown on the batch's "
                               "traceability page.")
    def post(self, request, merchant_id: int, product_id: int, batch_id: int):
        batch = self.batch(request, merchant_id, product_id, batch_id)
        data = valid(LabReportInputSerializer, request.data)
        report = services.lab_report_add(batch=batch, **data)
        return Response(LabReportSerializer(report).data, status=status.HTTP_201_CREATED)


class MerchantProductImageApi(_MemberApi):
    """The product's picture (multipart/form-data): JPEG, PNG or WebP, checked by content."""

    parser_classes = [MultiPartParser]

    class ImageSerializer(serializers.Serializer):
        image = UploadSerializerField(policy="image")

    @extend_schema(request={"multipart/form-data": ImageSerializer},
                   responses=MerchantProductSerializer)
    def put(self, request, merchant_id: int, product_id: int):
        product = self.product(request, merchant_id, product_id)
        data = valid(self.ImageSerializer, request.data)
        services.product_set_image(product=product, image=data["image"])
        return Response(self.product_data(request, product))


class MerchantBatchReportApi(_MemberApi):
    """A batch's report document (multipart/form-data): PDF, JPEG or PNG."""

    parser_classes = [MultiPartParser]

    class ReportSerializer(serializers.Serializer):
        report_file = UploadSerializerField(policy="report")

    @extend_schema(request={"multipart/form-data": ReportSerializer},
                   responses=TraceSerializer)
    def put(self, request, merchant_id: int, product_id: int, batch_id: int):
        product = self.product(request, merchant_id, product_id)
        batch = get_object_or_404(product.batches.all(), pk=batch_id)
        data = valid(self.ReportSerializer, request.data)
        services.batch_set_report(batch=batch,
                                  report_file=data["report_file"])
        return Response(TraceSerializer(batch, context={"request": request}).data)


class MerchantProductActionApi(_MemberApi):
    class ActionSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=["submit", "delist"])

    @extend_schema(request=ActionSerializer, responses=MerchantProductSerializer)
    def post(self, request, merchant_id: int, product_id: int):
        product = self.product(request, merchant_id, product_id)
        data = valid(self.ActionSerializer, request.data)
        services.product_transition(product=product,
                                    action=data["action"])
        return Response(self.product_data(request, product))


