"""The shared catalog: merchants' public shop profiles, categories, products, SKUs, stock,
wholesale tiers, batches and their traceability. Shared by every bank's storefront.

A merchant's admission dossier is the admitting bank's secret and lives in that bank's
schema (``admission``); here is only what every shopper may see.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from banks.models import Bank
from catalog.storage import public_storage
from core.states import StateMachine
from core.uploads import UploadField, file_meta_field


class MerchantKind(models.TextChoices):
    COOPERATIVE = "cooperative", _("Farmers' cooperative")
    FAMILY_FARM = "family_farm", _("Family farm")
    ENTERPRISE = "enterprise", _("Enterprise")
    INDIVIDUAL = "individual", _("Individual business")


class MerchantStatus(models.TextChoices):
    APPLIED = "applied", _("Applied")
    UNDER_REVIEW = "under_review", _("Under review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")


class Merchant(models.Model):
    """A merchant's public shop profile. It belongs to the one bank that admits it and
    settles its money; its status changes only through catalog.services.merchant_transition."""

    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, related_name="merchants")
    name = models.CharField(_("shop name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=MerchantKind.choices)
    county = models.CharField(_("county"), max_length=60)
    township = models.CharField(_("township"), max_length=60, blank=True, default="")
    intro = models.TextField(_("introduction"), blank=True, default="")
    status = models.CharField(_("status"), max_length=20, choices=MerchantStatus.choices,
                              default=MerchantStatus.APPLIED)
    # Admission: applied, reviewed, approved or rejected; an approved shop can be suspended.
    STATES = StateMachine(initial=[MerchantStatus.APPLIED], transitions={
        "start_review": ([MerchantStatus.APPLIED], MerchantStatus.UNDER_REVIEW),
        "approve": ([MerchantStatus.UNDER_REVIEW], MerchantStatus.APPROVED),
        "reject": ([MerchantStatus.APPLIED, MerchantStatus.UNDER_REVIEW],
                   MerchantStatus.REJECTED),
        "suspend": ([MerchantStatus.APPROVED], MerchantStatus.SUSPENDED),
        "reinstate": ([MerchantStatus.SUSPENDED], MerchantStatus.APPROVED),
        "reapply": ([MerchantStatus.REJECTED], MerchantStatus.APPLIED),
    })
    status_reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    is_featured = models.BooleanField(_("curated by the bank"), default=False)
    # Buyers' reviews of the shop's products (the visible ones), kept by
    # catalog.services.rating_refresh; ``rating_avg`` is 0 while there is none.
    rating_count = models.PositiveIntegerField(default=0)
    rating_total = models.PositiveIntegerField(default=0)
    rating_avg = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["bank_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["bank", "name"], name="catalog_merchant_name_unique"),
        ]
        indexes = [models.Index(fields=["bank", "status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_trading(self) -> bool:
        return self.status == MerchantStatus.APPROVED


class MerchantRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    STAFF = "staff", _("Shop staff")


class MerchantMember(models.Model):
    """A person who runs a merchant's shop (the "merchant member" role)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="merchant_memberships")
    role = models.CharField(max_length=10, choices=MerchantRole.choices,
                            default=MerchantRole.OWNER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "user"], name="catalog_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant}"


class Category(models.Model):
    """A node of the category tree (two levels in the demo; any depth is allowed)."""

    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="children")
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=40)
    name_en = models.CharField(_("English name"), max_length=60, blank=True, default="")
    # Other names a shopper may type for the whole category (search, weight D).
    aliases = models.CharField(_("aliases"), max_length=200, blank=True, default="",
                               help_text=_("Other names, separated by commas."))
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class ProductStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_REVIEW = "pending_review", _("Pending review")
    LISTED = "listed", _("Listed")
    DELISTED = "delisted", _("Delisted")


class Product(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="products")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(_("name"), max_length=120)
    name_en = models.CharField(_("English name"), max_length=120, blank=True, default="")
    aliases = models.CharField(_("aliases"), max_length=200, blank=True, default="",
                               help_text=_("Other names shoppers use, separated by commas."))
    subtitle = models.CharField(_("subtitle"), max_length=200, blank=True, default="")
    description = models.TextField(_("description"), blank=True, default="")
    origin_province = models.CharField(_("province of origin"), max_length=30, blank=True,
                                       default="")
    origin_county = models.CharField(_("county of origin"), max_length=60)
    origin_township = models.CharField(_("township of origin"), max_length=60, blank=True,
                                       default="")
    gi_label = models.CharField(_("geographical indication"), max_length=80, blank=True,
                                default="")
    image = UploadField(_("image"), upload_to="products/%Y/%m/", blank=True,
                        storage=public_storage, policy="image")
    file_meta = file_meta_field()
    status = models.CharField(_("status"), max_length=20, choices=ProductStatus.choices,
                              default=ProductStatus.DRAFT)
    # "submit" lists at once where the bank does not review listings (the service decides).
    STATES = StateMachine(initial=[ProductStatus.DRAFT], transitions={
        "submit": ([ProductStatus.DRAFT, ProductStatus.DELISTED], ProductStatus.PENDING_REVIEW),
        "approve_listing": ([ProductStatus.PENDING_REVIEW], ProductStatus.LISTED),
        "reject_listing": ([ProductStatus.PENDING_REVIEW], ProductStatus.DRAFT),
        "delist": ([ProductStatus.LISTED, ProductStatus.PENDING_REVIEW], ProductStatus.DELISTED),
    })
    status_reason = models.CharField(max_length=300, blank=True, default="")
    is_featured = models.BooleanField(_("curated pick"), default=False)
    sales_count = models.PositiveIntegerField(default=0)
    # Lowest retail price of its SKUs, kept by the services, for sorting and facets.
    price_from = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # Buyers' visible reviews: how many, the sum of their stars and the average (0 while
    # there is none), kept by catalog.services.rating_refresh; sorted on by "rating".
    rating_count = models.PositiveIntegerField(default=0)
    rating_total = models.PositiveIntegerField(default=0)
    rating_avg = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0"))
    # Search: weighted tokens built by catalog.search (Chinese uni/bigrams, pinyin).
    search_vector = SearchVectorField(null=True, editable=False)
    search_text = models.TextField(blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    listed_at = models.DateTimeField(null=True, blank=True)
    # What a partner's catalog feed follows (partners.selectors): every save() touches it,
    # also one with update_fields (see save); stock counted by the merchant, a merchant's
    # status and a partner's allowed banks touch it through the services. Sales (stock
    # taken by checkouts), ratings and search tokens do not.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-listed_at", "-id"]
        indexes = [
            GinIndex(fields=["search_vector"], name="catalog_product_search_gin"),
            GinIndex(fields=["search_text"], name="catalog_product_text_trgm",
                     opclasses=["gin_trgm_ops"]),
            models.Index(fields=["status", "category"]),
            models.Index(fields=["status", "price_from"]),
            models.Index(fields=["status", "-listed_at"]),
            models.Index(fields=["status", "-sales_count"]),
            # The bank's own part of a storefront listing (curated picks, then sales).
            models.Index(
                fields=["status", "-is_featured", "-sales_count", "-id"],
                name="catalog_product_own_order",
            ),
            models.Index(fields=["merchant", "status"]),
            models.Index(fields=["status", "-rating_avg", "-rating_count"],
                         name="catalog_product_rating"),
            # The partners' change feed walks (updated_at, id).
            models.Index(fields=["updated_at", "id"], name="catalog_product_updated"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # auto_now is written only when it is among update_fields: a save of a few fields
        # is a change too.
        fields = kwargs.get("update_fields")
        if fields and "updated_at" not in fields:  # (an empty list saves nothing)
            kwargs["update_fields"] = [*fields, "updated_at"]
        super().save(*args, **kwargs)


UNITS = ["斤", "公斤", "克", "箱", "袋", "盒", "瓶", "罐", "个", "只", "件", "份", "提", "束"]


class Sku(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    spec = models.CharField(_("specification"), max_length=60)
    unit = models.CharField(_("unit"), max_length=8, choices=[(u, u) for u in UNITS])
    price = models.DecimalField(_("retail price"), max_digits=12, decimal_places=2,
                                validators=[MinValueValidator(Decimal("0.01"))])
    # On the shelf, counted by the merchant; ``reserved`` of it is held for checkouts and
    # orders whose goods have not left yet. What can still be sold is ``stock``.
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    stock = models.GeneratedField(expression=F("on_hand") - F("reserved"),
                                  output_field=models.IntegerField(), db_persist=True,
                                  verbose_name=_("available"))
    # Set once the SKU's goods are kept in warehouses (the ``warehouses`` app decides):
    # from then on ``on_hand`` is its lots' units not pledged, changed by the warehouses'
    # stock movements only (a shelf count or adjustment is refused).
    in_warehouse = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["price", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(reserved__gte=0) & Q(reserved__lte=F("on_hand")),
                                   name="catalog_sku_reserved_within_on_hand"),
            models.CheckConstraint(condition=Q(price__gt=0), name="catalog_sku_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} {self.spec}"


class WholesaleTier(models.Model):
    """B2B price: from ``min_quantity`` units on, each unit costs ``unit_price``."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="tiers")
    min_quantity = models.PositiveIntegerField(validators=[MinValueValidator(2)])
    unit_price = models.DecimalField(max_digits=12, decimal_places=2,
                                     validators=[MinValueValidator(Decimal("0.01"))])

    class Meta:
        ordering = ["min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["sku", "min_quantity"], name="catalog_tier_unique"),
        ]

    def __str__(self) -> str:
        return f"≥{self.min_quantity}: {self.unit_price}"


class Batch(models.Model):
    """A harvest or production batch, traceable to its farm by a public page and QR code."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="batches")
    code = models.CharField(_("batch code"), max_length=40)
    harvest_date = models.DateField(_("harvest or production date"))
    farm = models.CharField(_("farm"), max_length=100)
    plot = models.CharField(_("plot"), max_length=100, blank=True, default="")
    # [{"kind": "fertiliser"|"pesticide"|..., "name": str, "date": "YYYY-MM-DD",
    #   "amount": str}]
    inputs = models.JSONField(_("inputs used"), default=list, blank=True)
    lab_report = models.TextField(_("lab report"), blank=True, default="")
    inspection_report = models.TextField(_("inspection report"), blank=True, default="")
    report_file = UploadField(_("report document"), upload_to="batches/%Y/%m/",
                              blank=True, storage=public_storage, policy="report")
    file_meta = file_meta_field()
    trace_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Set while an open food-safety recall covers the batch (the ``recalls`` app decides;
    # the catalog only reads the flag: the trace page says so, checkout refuses it).
    recalled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-harvest_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "code"], name="catalog_batch_code_unique"),
        ]

    def __str__(self) -> str:
        return self.code


class LabReport(models.Model):
    """A laboratory's test of a batch: one row per item tested; the report passes when
    every row passes (``passed`` is kept by ``catalog.services.lab_report_add``)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="lab_reports")
    lab_name = models.CharField(_("laboratory"), max_length=100)
    tested_on = models.DateField(_("tested on"))
    tested_by = models.CharField(_("tested by"), max_length=60, blank=True, default="")
    passed = models.BooleanField(_("passed"), default=False)
    report_file = UploadField(_("report document"), upload_to="lab-reports/%Y/%m/",
                              blank=True, storage=public_storage, policy="report")
    file_meta = file_meta_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-tested_on", "-id"]

    def __str__(self) -> str:
        return f"{self.lab_name} {self.tested_on}"


class LabResult(models.Model):
    """One item of a lab report, e.g. 农药残留 0.02 mg/kg against a limit of 0.05."""

    report = models.ForeignKey(LabReport, on_delete=models.CASCADE, related_name="results")
    item = models.CharField(_("item tested"), max_length=60)
    value = models.CharField(_("value"), max_length=30)
    unit = models.CharField(_("unit"), max_length=20, blank=True, default="")
    limit = models.CharField(_("limit"), max_length=30, blank=True, default="")
    passed = models.BooleanField(_("passed"))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.item}: {self.value}{self.unit}"


class SynonymGroup(models.Model):
    """Words that mean the same produce (土豆 = 马铃薯 = 洋芋), edited by federation admins;
    applied to queries at once (catalog.selectors.synonyms, cached briefly)."""

    words = ArrayField(models.CharField(max_length=30), verbose_name=_("words"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [GinIndex(fields=["words"], name="catalog_synonym_words_gin")]

    def __str__(self) -> str:
        return " = ".join(self.words)


class SearchTerm(models.Model):
    """A pinyin (or English) term of an indexed name, with the characters it stands for:
    the vocabulary of typo matching and of "did you mean". Added to as products are
    indexed; a term whose products are gone only costs an alternative that finds nothing."""

    term = models.CharField(max_length=120, unique=True)
    display = models.CharField(max_length=120)

    class Meta:
        indexes = [GinIndex(fields=["term"], name="catalog_searchterm_trgm",
                            opclasses=["gin_trgm_ops"])]

    def __str__(self) -> str:
        return self.term


class SuggestKey(models.Model):
    """Where a shopper may start typing to mean a product: from each CJK character, ASCII
    word and pinyin syllable (full and initials) of its name, English name and aliases, to
    the end (``catalog.search.suggest``). Suggestions read the keys by prefix from a
    B-tree that also holds the ranking columns (an index-only scan); the product's bank
    and sales are copied here for that. ``catalog.services.product_reindex`` writes the
    keys, ``catalog.services.sales_record`` keeps ``sales_count`` current."""

    pk = models.CompositePrimaryKey("product_id", "key")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    key = models.CharField(max_length=120)
    # the merchant's bank (never changes), for "the host bank's products first"
    bank = models.ForeignKey(Bank, on_delete=models.DO_NOTHING, related_name="+",
                             db_index=False, db_constraint=False)
    sales_count = models.PositiveIntegerField(default=0)
    at_start = models.BooleanField(default=False)   # the key is where the name begins

    class Meta:
        indexes = [models.Index(fields=["key"], name="catalog_suggestkey_prefix",
                                opclasses=["varchar_pattern_ops"],
                                include=["sales_count", "bank", "at_start", "product"])]

    def __str__(self) -> str:
        return self.key


class Favourite(models.Model):
    """收藏: a product or a shop a shopper keeps to come back to (one of the two)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="favourites")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="+")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(product__isnull=True) ^ Q(merchant__isnull=True),
                name="catalog_favourite_one_thing"),
            models.UniqueConstraint(fields=["user", "product"],
                                    condition=Q(product__isnull=False),
                                    name="catalog_favourite_product_once"),
            models.UniqueConstraint(fields=["user", "merchant"],
                                    condition=Q(merchant__isnull=False),
                                    name="catalog_favourite_shop_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ♥ {self.product_id or self.merchant_id}"
