from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.states import StateMachine


class PointsProgramme(models.Model):
    """The bank's points programme: one row in each bank's schema, seeded at onboarding.

    Its parameters are the bank's own business and live in the bank's schema.
    """

    name = models.CharField(_("name"), max_length=60)
    points_per_yuan = models.DecimalField(
        _("points earned per yuan spent"), max_digits=6, decimal_places=2,
        default=Decimal("1.00"), validators=[MinValueValidator(Decimal("0"))])
    yuan_per_point = models.DecimalField(
        _("yuan a point is worth at checkout"), max_digits=6, decimal_places=4,
        default=Decimal("0.0100"), validators=[MinValueValidator(Decimal("0"))])
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class PointsProgrammeRules(models.Model):
    """The programme's rules beyond the rates (one row, next to ``PointsProgramme``)."""

    programme = models.OneToOneField(PointsProgramme, on_delete=models.CASCADE,
                                     related_name="rules")
    # Points expire this many months after they were earned, oldest first.
    expiry_months = models.PositiveSmallIntegerField(_("points expire after (months)"),
                                                     default=12)
    # A sharer earns these points per yuan of an order that came through their link.
    sharer_points_per_yuan = models.DecimalField(
        _("sharer's points per yuan"), max_digits=6, decimal_places=2,
        default=Decimal("0.50"), validators=[MinValueValidator(Decimal("0"))])
    # Points may pay at most this share of an order's goods (never shipping or flash
    # sale lines).
    max_order_share = models.DecimalField(_("largest share of an order paid by points"),
                                          max_digits=4, decimal_places=2,
                                          default=Decimal("0.50"),
                                          validators=[MinValueValidator(Decimal("0"))])

    def __str__(self) -> str:
        return f"rules of {self.programme_id}"


class EarningRule(models.Model):
    """Extra points: a category bonus or a campaign (a window), as a multiplier of the
    base rate on the matching goods. The highest matching multiplier applies."""

    name = models.CharField(_("name"), max_length=60)
    category_id = models.BigIntegerField(_("category"), null=True, blank=True)
    multiplier = models.DecimalField(_("multiplier"), max_digits=4, decimal_places=2,
                                     validators=[MinValueValidator(Decimal("1"))])
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class EntryKind(models.TextChoices):
    EARNED = "earned", _("Earned")
    SPENT = "spent", _("Spent")
    EXPIRED = "expired", _("Expired")
    RESTORED = "restored", _("Restored")


class PointsEntry(models.Model):
    """One line of a customer's points ledger. Append-only (a database trigger refuses
    updates and deletes); a customer's balance is the sum of their entries."""

    user_id = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    points = models.IntegerField()  # + earned/restored, - spent/expired
    reference = models.CharField(max_length=80)
    note = models.CharField(max_length=120, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="rewards_entry_once"),
            models.CheckConstraint(
                condition=(models.Q(kind__in=["earned", "restored"], points__gt=0)
                           | models.Q(kind__in=["spent", "expired"], points__lt=0)),
                name="rewards_entry_sign"),
        ]
        indexes = [models.Index(fields=["user_id", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.points}"


class PointsLot(models.Model):
    """Points earned together, expiring together: spending and expiry take from the
    oldest lots first. The sum of a customer's lots' ``remaining`` equals their ledger
    balance."""

    user_id = models.BigIntegerField()
    earned = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="+")
    points = models.PositiveIntegerField()
    remaining = models.PositiveIntegerField()
    expires_on = models.DateField()

    class Meta:
        ordering = ["expires_on", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(remaining__lte=models.F(
            "points")), name="rewards_lot_not_overspent")]
        indexes = [models.Index(fields=["user_id", "expires_on"])]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining}/{self.points}"


class LotUse(models.Model):
    """Which lots a spending took from, so that a refund restores them (unless expired)."""

    spent = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="uses")
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="uses")
    points = models.PositiveIntegerField()
    restored = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.points} from lot {self.lot_id}"


class MallOffer(models.Model):
    """Goods of a partner merchant in the bank's points mall: for points, or points plus
    cash; optionally a flash redemption (a window and a quantity) and only for some
    customer groups. Redeemed goods are picked up at a branch of the bank."""

    title = models.CharField(_("title"), max_length=80)
    merchant_id = models.BigIntegerField(_("partner merchant"))
    sku_id = models.BigIntegerField(_("SKU"))
    points_price = models.PositiveIntegerField(_("points"))
    cash_price = models.DecimalField(_("cash"), max_digits=12, decimal_places=2,
                                     default=Decimal("0.00"),
                                     validators=[MinValueValidator(Decimal("0"))])
    quantity = models.PositiveIntegerField(_("quantity offered"))
    redeemed = models.PositiveIntegerField(default=0)
    per_customer_limit = models.PositiveIntegerField(_("limit per customer"), default=1)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    is_flash = models.BooleanField(_("flash redemption"), default=False)
    segments = models.JSONField(_("only for customer groups"), default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_flash", "starts_at", "id"]
        constraints = [models.CheckConstraint(
            condition=models.Q(redeemed__lte=models.F("quantity")),
            name="rewards_offer_not_oversold")]

    def __str__(self) -> str:
        return self.title


class OfferTake(models.Model):
    """How many of an offer a customer has redeemed (the per-customer limit, enforced by
    a conditional update under concurrency)."""

    offer = models.ForeignKey(MallOffer, on_delete=models.CASCADE, related_name="takes")
    user_id = models.BigIntegerField()
    quantity = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["offer", "user_id"],
                                               name="rewards_one_take_per_customer")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.quantity}"


class RedemptionStatus(models.TextChoices):
    AWAITING_CASH = "awaiting_cash", _("Waiting for the cash part")
    READY = "ready", _("Ready for pickup")
    COLLECTED = "collected", _("Collected")
    CANCELLED = "cancelled", _("Cancelled")


class Redemption(models.Model):
    offer = models.ForeignKey(MallOffer, on_delete=models.PROTECT, related_name="redemptions")
    user_id = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    points = models.PositiveIntegerField()
    cash = models.DecimalField(max_digits=12, decimal_places=2)
    branch_id = models.BigIntegerField()
    pickup_code = models.CharField(max_length=8)
    status = models.CharField(max_length=14, choices=RedemptionStatus.choices)
    STATES = StateMachine(initial=[RedemptionStatus.AWAITING_CASH, RedemptionStatus.READY],
                          transitions={
        "pay_cash": ([RedemptionStatus.AWAITING_CASH], RedemptionStatus.READY),
        "collect": ([RedemptionStatus.READY], RedemptionStatus.COLLECTED),
        "cancel": ([RedemptionStatus.AWAITING_CASH, RedemptionStatus.READY],
                   RedemptionStatus.CANCELLED),
    })
    payment_reference = models.CharField(max_length=80, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    collected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"redemption {self.pk}"


class RedemptionPaymentStatus(models.TextChoices):
    PENDING = "pending", _("In progress")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class RedemptionPayment(models.Model):
    """One attempt to pay a redemption's cash part by card. Committed (pending) before the
    gateway is called; the gateway's key is derived from the redemption and the attempt
    number (``charge_key``), so a retry or the reconciliation task reaches the same
    charge. At most one attempt is pending at a time, and at most one succeeds."""

    # The client's Idempotency-Key (the API's header, the page's form) and its request
    # are in the idempotency store (core.idempotency), with the attempt as target.
    KEY_SCOPE = "points_pay"

    redemption = models.ForeignKey(Redemption, on_delete=models.PROTECT,
                                   related_name="payments")
    attempt = models.PositiveIntegerField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=10, choices=RedemptionPaymentStatus.choices,
                              default=RedemptionPaymentStatus.PENDING)
    STATES = StateMachine(initial=[RedemptionPaymentStatus.PENDING], transitions={
        "succeed": ([RedemptionPaymentStatus.PENDING], RedemptionPaymentStatus.SUCCEEDED),
        "fail": ([RedemptionPaymentStatus.PENDING], RedemptionPaymentStatus.FAILED),
    })
    reference = models.CharField(max_length=80, blank=True, default="")
    message = models.CharField(max_length=300, blank=True, default="")
    actor_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["redemption", "attempt"],
                                    name="rewards_payment_attempt_once"),
            models.UniqueConstraint(fields=["redemption"], condition=models.Q(status="pending"),
                                    name="rewards_payment_one_pending"),
            models.UniqueConstraint(fields=["redemption"],
                                    condition=models.Q(status="succeeded"),
                                    name="rewards_payment_one_success"),
        ]

    def __str__(self) -> str:
        return f"payment {self.attempt} of redemption {self.redemption_id}"
