"""Traffic and behaviour data of the province (public schema).

``Event`` is the raw, high-volume log written in batches by ``federation.tasks``
(see ``federation.recorder``). The ``Daily*Stat`` tables are per-day roll-ups of it,
recomputed idempotently one day at a time by ``federation.services.rollup_day``;
dashboards read only the roll-ups. See docs/architecture.md, "Traffic and behaviour data".
"""
from django.db import models
from django.utils.translation import gettext_lazy as _


class EventKind(models.TextChoices):
    VISIT = "visit", _("Storefront visit")
    PRODUCT_VIEW = "product_view", _("Product view")
    SEARCH = "search", _("Search")
    ADD_TO_CART = "add_to_cart", _("Add to cart")
    CHECKOUT = "checkout", _("Checkout")
    PURCHASE = "purchase", _("Purchase")
    SHARE_CLICK = "share_click", _("Share-link click")


class Event(models.Model):
    """One thing a shopper did. No foreign-key constraints on the id columns: the table
    is written in bulk and kept only as long as the data catalogue allows; banks are
    plain foreign keys without a constraint or an index of their own."""

    kind = models.CharField(max_length=16, choices=EventKind.choices)
    at = models.DateTimeField()
    # Local (Asia/Shanghai) calendar day of ``at``: the unit of the roll-ups.
    day = models.DateField()
    # The bank whose storefront the shopper was on; null for the province portal.
    storefront_bank = models.ForeignKey("banks.Bank", on_delete=models.DO_NOTHING,
                                        null=True, blank=True, related_name="+",
                                        db_constraint=False, db_index=False)
    # The bank that admitted the merchant of the product (null for visits, searches).
    merchant_bank = models.ForeignKey("banks.Bank", on_delete=models.DO_NOTHING,
                                      null=True, blank=True, related_name="+",
                                      db_constraint=False, db_index=False)
    merchant_id = models.BigIntegerField(null=True, blank=True)
    product_id = models.BigIntegerField(null=True, blank=True)
    category_id = models.BigIntegerField(null=True, blank=True)
    # Origin region of the product ("province county"), blank when there is no product.
    region = models.CharField(max_length=80, blank=True, default="")
    # SHA-256 of the session key (with the platform's secret): never the key itself.
    session_hash = models.CharField(max_length=64, blank=True, default="")
    # Only with the user's BEHAVIOUR consent (accounts.ConsentPurpose.BEHAVIOUR).
    user_id = models.BigIntegerField(null=True, blank=True)
    # The buyer's customer segment (accounts.Segment) on purchases; a coarse group,
    # recorded with or without consent, never with the user id unless consented.
    segment = models.CharField(max_length=16, blank=True, default="")
    query = models.CharField(max_length=200, blank=True, default="")
    # Searches: how many products matched every word (0: nothing; null: not recorded).
    results = models.IntegerField(null=True, blank=True)
    quantity = models.IntegerField(default=0)
    # GMV of a purchase (the order's total); 0 for other kinds.
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    order_id = models.BigIntegerField(null=True, blank=True)
    checkout_id = models.BigIntegerField(null=True, blank=True)
    sharer_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["day", "kind"], name="fed_event_day_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class _DailyStat(models.Model):
    day = models.DateField()
    # Null storefront bank = the province portal.
    storefront_bank = models.ForeignKey("banks.Bank", on_delete=models.CASCADE, null=True,
                                        blank=True, related_name="+")

    class Meta:
        abstract = True


def _money():
    return models.DecimalField(max_digits=16, decimal_places=2, default=0)


class DailyPairStat(_DailyStat):
    """Per day and pair (storefront bank -> merchant bank). Visits and searches have no
    merchant: they sit on the row whose merchant bank is null. Referral fees come from
    settlement (payments.SettlementItem: referrer bank -> merchant's bank) on the day
    they were booked."""

    merchant_bank = models.ForeignKey("banks.Bank", on_delete=models.CASCADE, null=True,
                                      blank=True, related_name="+")
    visits = models.IntegerField(default=0)
    product_views = models.IntegerField(default=0)
    searches = models.IntegerField(default=0)
    add_to_cart = models.IntegerField(default=0)
    checkouts = models.IntegerField(default=0)
    share_clicks = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    buyers = models.IntegerField(default=0)
    gmv = _money()
    referral_fees = _money()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "storefront_bank", "merchant_bank"], nulls_distinct=False,
            name="fed_pairstat_once")]

    def __str__(self) -> str:
        return f"{self.day} {self.storefront_bank_id}->{self.merchant_bank_id}"


class DailyMerchantStat(_DailyStat):
    merchant_id = models.BigIntegerField()
    merchant_bank = models.ForeignKey("banks.Bank", on_delete=models.CASCADE, null=True,
                                      blank=True, related_name="+")
    product_views = models.IntegerField(default=0)
    add_to_cart = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    gmv = _money()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "merchant_id", "storefront_bank"], nulls_distinct=False,
            name="fed_merchantstat_once")]
        indexes = [models.Index(fields=["merchant_bank", "day"], name="fed_merchantstat_mb")]

    def __str__(self) -> str:
        return f"{self.day} merchant {self.merchant_id}"


class DailyCategoryStat(_DailyStat):
    category_id = models.BigIntegerField(null=True, blank=True)
    merchant_bank = models.ForeignKey("banks.Bank", on_delete=models.CASCADE, null=True,
                                      blank=True, related_name="+")
    product_views = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    gmv = _money()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "category_id", "storefront_bank", "merchant_bank"],
            nulls_distinct=False, name="fed_categorystat_once")]

    def __str__(self) -> str:
        return f"{self.day} category {self.category_id}"


class DailyRegionStat(_DailyStat):
    region = models.CharField(max_length=80, blank=True, default="")
    merchant_bank = models.ForeignKey("banks.Bank", on_delete=models.CASCADE, null=True,
                                      blank=True, related_name="+")
    product_views = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    gmv = _money()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "region", "storefront_bank", "merchant_bank"],
            nulls_distinct=False, name="fed_regionstat_once")]

    def __str__(self) -> str:
        return f"{self.day} {self.region}"


class DailySegmentStat(_DailyStat):
    """Purchases per customer segment of the buyer (blank = not stated), by the
    storefront the buyer bought through."""

    segment = models.CharField(max_length=16, blank=True, default="")
    buyers = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    gmv = _money()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "storefront_bank", "segment"], nulls_distinct=False,
            name="fed_segmentstat_once")]

    def __str__(self) -> str:
        return f"{self.day} {self.segment or '-'}"


class DailyProductStat(_DailyStat):
    product_id = models.BigIntegerField()
    merchant_id = models.BigIntegerField(null=True, blank=True)
    merchant_bank = models.ForeignKey("banks.Bank", on_delete=models.CASCADE, null=True,
                                      blank=True, related_name="+")
    views = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    quantity = models.IntegerField(default=0)
    gmv = _money()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["day", "product_id", "storefront_bank"], nulls_distinct=False,
            name="fed_productstat_once")]

    def __str__(self) -> str:
        return f"{self.day} product {self.product_id}"


class RollupState(models.Model):
    """When each day was last rolled up (so the dashboards can say how fresh they are
    and the nightly task knows which days changed)."""

    day = models.DateField(unique=True)
    rolled_up_at = models.DateTimeField()
    events = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day} at {self.rolled_up_at:%Y-%m-%d %H:%M}"


class DataUse(models.Model):
    """A use of a person's behaviour data beyond the dashboards, logged as the data
    catalogue requires (e.g. a bank's credit scoring reading a shopper's purchases)."""

    at = models.DateTimeField(auto_now_add=True)
    # What was read: a data-catalogue entry key (federation.catalogue).
    data_kind = models.CharField(max_length=40)
    purpose = models.CharField(max_length=40)
    bank = models.ForeignKey("banks.Bank", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")
    subject_user_id = models.BigIntegerField(null=True, blank=True)
    subject_merchant_id = models.BigIntegerField(null=True, blank=True)
    # Staff account or task that read it (null = a scheduled task).
    used_by_id = models.BigIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["subject_user_id", "at"], name="fed_datause_subject")]

    def __str__(self) -> str:
        return f"{self.data_kind} for {self.purpose} at {self.at:%Y-%m-%d %H:%M}"
