from rest_framework import serializers

from catalog.models import Batch, Category, Merchant, Product, Sku, WholesaleTier
from core import uploads


class CategorySerializer(serializers.ModelSerializer):
    children = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["id", "slug", "name", "name_en", "aliases", "children"]

    def get_children(self, obj) -> list[dict]:
        return [{"id": c.id, "slug": c.slug, "name": c.name, "name_en": c.name_en,
                 "aliases": c.aliases}
                for c in obj.children.all()]


class MerchantBriefSerializer(serializers.ModelSerializer):
    bank = serializers.CharField(source="bank.code")
    bank_name = serializers.CharField(source="bank.name")

    class Meta:
        model = Merchant
        fields = ["id", "name", "kind", "county", "township", "bank", "bank_name"]


class ShopSerializer(MerchantBriefSerializer):
    class Meta(MerchantBriefSerializer.Meta):
        fields = [*MerchantBriefSerializer.Meta.fields, "intro", "is_featured",
                  "rating_count", "rating_avg"]


class ProductCardSerializer(serializers.ModelSerializer):
    merchant = MerchantBriefSerializer()
    category = serializers.CharField(source="category.slug")
    image = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "name", "name_en", "aliases", "subtitle", "category",
                  "origin_province", "origin_county",
                  "origin_township", "gi_label", "price_from", "sales_count",
                  "rating_count", "rating_avg", "image", "merchant", "listed_at"]

    def get_image(self, obj) -> str | None:
        return obj.image.url if obj.image else None


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = WholesaleTier
        fields = ["min_quantity", "unit_price"]


class SkuSerializer(serializers.ModelSerializer):
    tiers = TierSerializer(many=True, read_only=True)

    class Meta:
        model = Sku
        fields = ["id", "spec", "unit", "price", "stock", "tiers"]


class MerchantSkuSerializer(SkuSerializer):
    """A SKU as its merchant sees it: ``on_hand`` (on the shelf, as last counted, less
    what has left since), ``reserved`` (of it, held for checkouts and orders not sent
    yet) and ``stock`` (available to sell: on_hand - reserved)."""

    class Meta(SkuSerializer.Meta):
        fields = ["id", "spec", "unit", "price", "on_hand", "reserved", "stock", "tiers"]


class BatchSerializer(serializers.ModelSerializer):
    trace_url = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = ["id", "code", "harvest_date", "farm", "plot", "inputs", "lab_report",
                  "inspection_report", "trace_token", "trace_url", "report_file_url",
                  "report_file_quarantined"]

    report_file_url = serializers.SerializerMethodField()
    report_file_quarantined = serializers.SerializerMethodField()

    def get_report_file_url(self, obj) -> str | None:
        return obj.report_file.url if obj.report_file else None

    def get_report_file_quarantined(self, obj) -> bool:
        return uploads.is_quarantined(obj, "report_file")

    def get_trace_url(self, obj) -> str:
        request = self.context.get("request")
        path = f"/trace/{obj.trace_token}/"
        return request.build_absolute_uri(path) if request else path


class ProductDetailSerializer(ProductCardSerializer):
    skus = SkuSerializer(many=True, read_only=True)
    batches = BatchSerializer(many=True, read_only=True)

    class Meta(ProductCardSerializer.Meta):
        fields = [*ProductCardSerializer.Meta.fields, "description", "skus", "batches"]


class MerchantProductSerializer(ProductDetailSerializer):
    skus = MerchantSkuSerializer(many=True, read_only=True)

    class Meta(ProductDetailSerializer.Meta):
        fields = [*ProductDetailSerializer.Meta.fields, "status", "status_reason"]


class TraceSerializer(BatchSerializer):
    product = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "product"]

    def get_product(self, obj) -> dict:
        p = obj.product
        return {"id": p.id, "name": p.name, "origin_county": p.origin_county,
                "merchant": p.merchant.name, "bank": p.merchant.bank.name}
