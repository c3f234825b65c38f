"""After the sale: the order's thread with the shop and disputes, returns, reviews and
invoices."""


from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Merchant, Product
from core.states import StateMachine
from core.uploads import UploadField, file_meta_field, private_storage

from .buying import MONEY, Order, OrderLine, Refund


class MessageSide(models.TextChoices):
    BUYER = "buyer", _("Buyer")
    SHOP = "shop", _("Shop")
    BANK = "bank", _("Bank staff")


class OrderMessage(models.Model):
    """One message of an order's thread between its buyer and the shop ("ask the shop");
    staff of the shop's bank read and write in it once a dispute is raised."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                               null=True, related_name="+")
    side = models.CharField(max_length=8, choices=MessageSide.choices)
    body = models.CharField(max_length=1000)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"], name="orders_message_order_at")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.side}"


class OrderDispute(models.Model):
    """A dispute the buyer or the shop raised on an order: from then on the staff of the
    shop's bank read the order's thread and answer in it."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="dispute")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                  null=True, related_name="+")
    side = models.CharField(max_length=8, choices=MessageSide.choices)
    reason = models.CharField(max_length=300)
    raised_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"dispute on {self.order_id}"


# --- after-sales returns (退货退款) -----------------------------------------------------------


def return_photo_storage():
    """Return photos: private to the buyer and the shop, served only through views that
    check who asks (never under a public URL). Not the tenant-aware default storage: the
    buyer uploads on one bank's storefront and the shop looks on its own bank's domain."""

    return private_storage("returns")


class ReturnReason(models.TextChoices):
    DAMAGED = "damaged", _("Arrived damaged")
    QUALITY = "quality", _("Quality problem")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    WRONG_ITEM = "wrong_item", _("Wrong item sent")
    CHANGED_MIND = "changed_mind", _("No longer wanted")
    OTHER = "other", _("Other")


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Return requested")
    APPROVED = "approved", _("Approved: send the goods back")
    REFUSED = "refused", _("Return refused")
    SHIPPED_BACK = "shipped_back", _("Sent back")
    RECEIVED = "received", _("Received by the shop")
    REFUNDED = "refunded", _("Refunded")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    LAPSED = "lapsed", _("Closed: not sent back in time")


# A return not yet closed: its goods count as returned, and it holds the order's escrow.
RETURN_OPEN = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.SHIPPED_BACK,
               ReturnStatus.RECEIVED)
# Returns whose goods are (or are being) returned: they count against what the buyer may
# still return.
RETURN_COUNTED = (*RETURN_OPEN, ReturnStatus.REFUNDED)


class ReturnRequest(models.Model):
    """The buyer sends goods of a received order back: the shop approves or refuses,
    the buyer ships them with a waybill, the shop confirms receipt, and then the
    returned lines are refunded through the order's refund path (``Refund``) and their
    units go back on the shelf."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+")
    reason = models.CharField(_("reason"), max_length=20, choices=ReturnReason.choices)
    description = models.CharField(_("details"), max_length=300, blank=True, default="")
    status = models.CharField(max_length=14, choices=ReturnStatus.choices,
                              default=ReturnStatus.REQUESTED)
    STATES = StateMachine(initial=[ReturnStatus.REQUESTED], transitions={
        "approve": ([ReturnStatus.REQUESTED], ReturnStatus.APPROVED),
        "refuse": ([ReturnStatus.REQUESTED], ReturnStatus.REFUSED),
        "withdraw": ([ReturnStatus.REQUESTED, ReturnStatus.APPROVED], ReturnStatus.WITHDRAWN),
        "ship_back": ([ReturnStatus.APPROVED], ReturnStatus.SHIPPED_BACK),
        "receive": ([ReturnStatus.SHIPPED_BACK], ReturnStatus.RECEIVED),
        "refund": ([ReturnStatus.RECEIVED], ReturnStatus.REFUNDED),
        # Nobody sent the approved goods back within ORDER_RETURN_SHIP_DAYS.
        "lapse": ([ReturnStatus.APPROVED], ReturnStatus.LAPSED),
    })
    amount = models.DecimalField(**MONEY)  # the returned lines' value, refunded on receipt
    decision_note = models.CharField(max_length=300, blank=True, default="")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    carrier = models.CharField(_("carrier"), max_length=40, blank=True, default="")
    tracking_number = models.CharField(_("tracking number"), max_length=40, blank=True,
                                       default="")
    refund = models.OneToOneField(Refund, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="return_request")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    shipped_back_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="orders_return_amount"),
        ]
        indexes = [models.Index(fields=["order", "status"])]

    def __str__(self) -> str:
        return f"return {self.pk} of {self.order_id}"


class ReturnLine(models.Model):
    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE,
                                       related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orders_returnline_qty"),
            models.UniqueConstraint(fields=["return_request", "order_line"],
                                    name="orders_returnline_once"),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


class ReturnPhoto(models.Model):
    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE,
                                       related_name="photos")
    image = UploadField(_("photo"), upload_to="%Y/%m/", storage=return_photo_storage,
                        policy="image")
    file_meta = file_meta_field()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"photo {self.pk} of return {self.return_request_id}"


# --- reviews and ratings ---------------------------------------------------------------------

REVIEW_TEXT_MAX = 1000
REVIEW_REPLY_MAX = 500
REVIEW_PHOTOS_MAX = 3


def review_storage():
    """Review photos: shared by every storefront (so not the tenant-aware storage, see
    catalog.storage), yet not in the public folder: a photo is served by
    ``orders.views_reviews.review_photo``, which refuses a hidden review's photos to
    anyone but its buyer, the shop and the shop's bank."""

    return private_storage("reviews")


class Review(models.Model):
    """A buyer's review of a product bought in a completed order: one per order and
    product (a product bought again in another order may be reviewed again). The buyer
    may edit it once; the shop may reply (and edit its reply); staff of the shop's bank
    may hide it with a reason (and show it again). A hidden review is left out of the
    public lists and of the product's and shop's ratings; its buyer still sees it, marked
    hidden, with the reason."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reviews")
    # The (first) line of the order with this product: its specification is shown.
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="reviews")
    stars = models.PositiveSmallIntegerField(_("stars"))
    text = models.CharField(_("review"), max_length=REVIEW_TEXT_MAX, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    reply = models.CharField(_("shop's reply"), max_length=REVIEW_REPLY_MAX, blank=True,
                             default="")
    replied_at = models.DateTimeField(null=True, blank=True)
    replied_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    hidden_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                  null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="orders_review_once"),
            models.CheckConstraint(condition=Q(stars__gte=1) & Q(stars__lte=5),
                                   name="orders_review_stars_1_5"),
            models.CheckConstraint(condition=Q(hidden_at__isnull=True) | ~Q(hidden_reason=""),
                                   name="orders_review_hidden_has_reason"),
        ]
        indexes = [
            models.Index(fields=["product", "-created_at"], name="orders_review_product",
                         condition=Q(hidden_at__isnull=True)),
            models.Index(fields=["merchant", "-created_at"]),
            models.Index(fields=["buyer", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"review {self.pk}: {self.stars}★ {self.product_id}"

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class ReviewPhoto(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="photos")
    image = UploadField(_("photo"), upload_to="%Y/%m/", storage=review_storage,
                        policy="image")
    file_meta = file_meta_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"photo {self.pk} of review {self.review_id}"


# --- invoices (发票) -------------------------------------------------------------------------


class InvoiceTitleKind(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual (个人)")
    BUSINESS = "business", _("Business (单位)")


class InvoiceType(models.TextChoices):
    # 电子普通发票: for anyone. 增值税专用发票: for a business that deducts input VAT.
    PLAIN = "plain", _("Plain e-invoice (普通发票)")
    SPECIAL = "special", _("Special VAT invoice (专用发票)")


class InvoiceStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ISSUED = "issued", _("Issued")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# Statuses of a request still in force: an order has at most one of them at a time.
INVOICE_LIVE = (InvoiceStatus.REQUESTED, InvoiceStatus.ISSUED)


class InvoiceRequest(models.Model):
    """A buyer's request for an invoice on one order, and the merchant's answer: the
    invoice issued (its number, date, amount and, if uploaded, the e-invoice PDF) or a
    rejection with a reason. A rejected or withdrawn request may be asked again."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="invoice_requests")
    # The order's merchant, kept on the row for the merchant's list and the number's
    # uniqueness (an invoice number is unique per issuer).
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("invoice title for"), max_length=12,
                            choices=InvoiceTitleKind.choices)
    invoice_type = models.CharField(_("invoice type"), max_length=8,
                                    choices=InvoiceType.choices, default=InvoiceType.PLAIN)
    title = models.CharField(_("invoice title"), max_length=100)
    taxpayer_number = models.CharField(_("taxpayer number"), max_length=18, blank=True,
                                       default="")
    # A special VAT invoice may carry the buyer's registered address and phone and bank
    # account (optional on fully digital e-invoices).
    address_phone = models.CharField(_("registered address and phone"), max_length=200,
                                     blank=True, default="")
    bank_name = models.CharField(_("bank"), max_length=100, blank=True, default="")
    bank_account = models.CharField(_("bank account"), max_length=40, blank=True, default="")
    email = models.EmailField(_("email"), blank=True, default="")

    status = models.CharField(max_length=10, choices=InvoiceStatus.choices,
                              default=InvoiceStatus.REQUESTED)
    STATES = StateMachine(initial=[InvoiceStatus.REQUESTED], transitions={
        "issue": ([InvoiceStatus.REQUESTED], InvoiceStatus.ISSUED),
        "reject": ([InvoiceStatus.REQUESTED], InvoiceStatus.REJECTED),
        "withdraw": ([InvoiceStatus.REQUESTED], InvoiceStatus.WITHDRAWN),
    })
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(_("reason"), max_length=300, blank=True, default="")

    # Issued: what the tax system gave the merchant.
    invoice_number = models.CharField(_("invoice number"), max_length=20, blank=True,
                                      default="")
    issued_on = models.DateField(_("issue date"), null=True, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY, null=True, blank=True)
    pdf = UploadField(_("e-invoice PDF"), upload_to="invoices/%Y/%m/", blank=True,
                      storage=private_storage, policy="invoice")
    file_meta = file_meta_field()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order"],
                                    condition=Q(status__in=["requested", "issued"]),
                                    name="orders_invoice_one_live_per_order"),
            models.UniqueConstraint(fields=["merchant", "invoice_number"],
                                    condition=~Q(invoice_number=""),
                                    name="orders_invoice_number_unique"),
            models.CheckConstraint(
                condition=~Q(status="issued") | (Q(amount__gt=0) & Q(issued_on__isnull=False)
                                                 & ~Q(invoice_number="")),
                name="orders_invoice_issued_complete"),
        ]
        indexes = [models.Index(fields=["merchant", "status", "requested_at"]),
                   models.Index(fields=["status", "issued_on"])]

    def __str__(self) -> str:
        return f"invoice {self.pk} of {self.order_id}: {self.status}"
