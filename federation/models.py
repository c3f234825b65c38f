"""Traffic and behaviour data of the province (public schema).

``Event`` is the raw, high-volume log written in batches by ``federation.tasks``
(see ``federation.recorder``); each batch is recorded once (``EventBatch``). The
``Daily*Stat`` tables are per-day roll-ups of it, kept up incrementally from the events
past ``RollupWatermark`` by ``federation.services.rollup_recent`` and rebuilt for a day
from its raw events by ``federation.services.rollup_day``; ``ProductTotal`` holds the
product roll-up summed over aligned spans of days (kept by a trigger). Dashboards read
only the roll-ups. See docs/flows.md, "Traffic and behaviour data".
"""
import datetime

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
            # The incremental roll-up asks whether an order / a checkout was already
            # counted (events it rolled up before); small: purchases and checkouts only.
            # A third one, on the buyer expression of purchases, is made in SQL by
            # migration 0002 (fed_event_purchase_buyer).
            models.Index(fields=["order_id"], condition=models.Q(kind="purchase"),
                         name="fed_event_purchase_order"),
            models.Index(fields=["checkout_id"], condition=models.Q(kind="checkout"),
                         name="fed_event_checkout"),
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


class ProductTotal(models.Model):
    """``DailyProductStat`` summed over all storefronts and over aligned spans of days:
    level L holds spans of 2**L days starting at multiples of 2**L days from
    ``SPAN_EPOCH`` (L = 0 .. ``SPAN_LEVELS`` - 1), so any range of days is a handful of
    spans (top products over 90 days read about a dozen spans, not 90 days of rows).
    Kept exact by statement triggers on ``DailyProductStat`` (migration 0002): every
    insert, update and delete there, by the roll-ups, the retention task or anything
    else, is added to or taken from the spans in the same transaction. ``rows`` counts
    the daily rows behind a total (a total with none is deleted)."""

    SPAN_EPOCH = "2000-01-03"
    SPAN_LEVELS = 9  # 1 .. 256 days

    level = models.SmallIntegerField()
    start = models.DateField()
    product_id = models.BigIntegerField()
    merchant_bank = models.ForeignKey("banks.Bank", on_delete=models.DO_NOTHING, null=True,
                                      blank=True, related_name="+", db_constraint=False,
                                      db_index=False)
    rows = models.IntegerField(default=0)
    views = models.BigIntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    quantity = models.BigIntegerField(default=0)
    gmv = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["level", "start", "merchant_bank", "product_id"], nulls_distinct=False,
            name="fed_producttotal_once")]

    def __str__(self) -> str:
        return f"{self.start} +2^{self.level} product {self.product_id}"

    @classmethod
    def spans(cls, first: datetime.date, last: datetime.date) -> list[tuple[int, datetime.date]]:
        """The fewest aligned spans that cover ``first`` .. ``last`` exactly: (level,
        start) pairs, at most two per level (the trigger's arithmetic, in Python)."""
        epoch = datetime.date.fromisoformat(cls.SPAN_EPOCH)
        out = []
        at, end = (first - epoch).days, (last - epoch).days
        while at <= end:
            level = cls.SPAN_LEVELS - 1
            while level and (at % (1 << level) or at + (1 << level) - 1 > end):
                level -= 1
            out.append((level, epoch + datetime.timedelta(days=at)))
            at += 1 << level
        return out


class EventBatch(models.Model):
    """A batch of buffered events written by the flush, recorded in the same transaction
    as its COPY: a batch written once is never written again (a flush that died after
    the commit leaves its batch in the buffer; the next flush finds the key here)."""

    key = models.CharField(max_length=40, unique=True)
    written_at = models.DateTimeField()
    events = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.key


class RollupWatermark(models.Model):
    """The last ``Event`` id the roll-ups have counted (one row). Advanced in the same
    transaction as the roll-up rows that count the events up to it."""

    name = models.CharField(max_length=20, unique=True, default="events")
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} <= {self.last_event_id}"


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
