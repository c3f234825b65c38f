"""Partner platforms: third parties (a county e-commerce service centre, a cooperative's
mini-program shop...) that sell the province's shared catalog to their own users, through
API keys with scopes.

The federation registers a partner and says which member banks' merchants it may sell;
a bank may opt its merchants out of a partner. Every change is on the partner's trail
(``banks.BankEvent`` rows with the partner as object). Writes are in
``partners.services``, reads in ``partners.selectors``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from banks.models import Bank
from core.states import StateMachine


class PartnerKind(models.TextChoices):
    COUNTY_CENTRE = "county_centre", _("County e-commerce service centre")
    COOPERATIVE_SHOP = "cooperative_shop", _("Cooperative shop")
    SERVICES = "services", _("Logistics or agricultural services")
    OTHER = "other", _("Other")


class PartnerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")


class Partner(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=PartnerKind.choices)
    contact_name = models.CharField(_("contact person"), max_length=60)
    contact_phone = models.CharField(_("contact phone"), max_length=20)
    contact_email = models.EmailField(_("contact email"), blank=True, default="")
    # The partner's fee, a share of what it sells (0 to 0.2; checked by the services).
    fee_rate = models.DecimalField(_("fee rate"), max_digits=5, decimal_places=4)
    # The member banks whose merchants the partner may sell (none: nothing).
    banks = models.ManyToManyField(Bank, related_name="+", blank=True,
                                   verbose_name=_("allowed banks"))
    status = models.CharField(_("status"), max_length=20, choices=PartnerStatus.choices,
                              default=PartnerStatus.ACTIVE)
    STATES = StateMachine(initial=[PartnerStatus.ACTIVE], transitions={
        "suspend": ([PartnerStatus.ACTIVE], PartnerStatus.SUSPENDED),
        "reactivate": ([PartnerStatus.SUSPENDED], PartnerStatus.ACTIVE),
        "close": ([PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED], PartnerStatus.CLOSED),
    })
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BankPartnerOptOut(models.Model):
    """A bank keeps its merchants out of a partner's catalog, whatever the federation
    allows."""

    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="opt_outs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bank", "partner"],
                                               name="partners_optout_once")]

    def __str__(self) -> str:
        return f"{self.bank_id} -/- {self.partner_id}"


class MemberRole(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    VIEWER = "viewer", _("Viewer")


class PartnerMember(models.Model):
    """A person of a partner platform who signs in to the partner console (on the portal)
    with an ordinary account: admins manage keys and webhooks, viewers only read. Added
    and removed by federation admins."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="partner_memberships")
    role = models.CharField(_("role"), max_length=10, choices=MemberRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner_id", "id"]
        constraints = [models.UniqueConstraint(fields=["partner", "user"],
                                               name="partners_member_once")]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.user_id}:{self.role}"


class Scope(models.TextChoices):
    CATALOG_READ = "catalog:read", "catalog:read"
    ORDERS_WRITE = "orders:write", "orders:write"
    ORDERS_READ = "orders:read", "orders:read"
    WEBHOOKS_MANAGE = "webhooks:manage", "webhooks:manage"


class PartnerKey(models.Model):
    """An API key of a partner: ``pk_<prefix>_<secret>``, shown once when made. Only the
    SHA-256 of the secret is kept; the prefix finds the row and is shown in lists."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(_("name"), max_length=60)
    prefix = models.CharField(max_length=8, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=20, choices=Scope.choices))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The key this one replaced (rotation).
    rotated_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True,
                                     blank=True, related_name="+")
    # Flushed from a Redis counter at most once a minute (partners.services.key_record_use).
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.prefix}"


class PartnerOrder(models.Model):
    """A checkout a partner placed for one of its customers (the checkout's buyer is the
    partner's system user). The partner's ``Idempotency-Key`` for it is in the one
    idempotency store (``core.idempotency``, scope partner_order)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="orders")
    checkout = models.OneToOneField("orders.Checkout", on_delete=models.PROTECT,
                                    related_name="partner_order")
    customer_reference = models.CharField(max_length=64)
    # Who receives the goods (also for branch pickup: who collects them).
    recipient = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["partner", "-created_at", "-id"])]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.customer_reference}"


class WebhookEventType(models.TextChoices):
    ORDER_PAID = "order.paid", "order.paid"
    ORDER_SHIPPED = "order.shipped", "order.shipped"
    ORDER_READY_FOR_PICKUP = "order.ready_for_pickup", "order.ready_for_pickup"
    ORDER_DELIVERED = "order.delivered", "order.delivered"
    ORDER_REFUNDED = "order.refunded", "order.refunded"
    ORDER_CANCELLED = "order.cancelled", "order.cancelled"


class PartnerWebhookEndpoint(models.Model):
    """Where a partner wants its events POSTed, signed with ``secret``."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="endpoints")
    url = models.URLField(max_length=300)
    secret = models.CharField(max_length=80)
    events = ArrayField(models.CharField(max_length=30, choices=WebhookEventType.choices))
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.url}"


class PartnerWebhookEvent(models.Model):
    """Something that happened to a partner's order, as sent to its endpoints."""

    id = models.CharField(primary_key=True, max_length=40)  # evt_<uuid hex>
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=30, choices=WebhookEventType.choices)
    # The order event it tells of: one webhook event per order event, ever.
    source = models.CharField(max_length=40, unique=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.id


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"  # retries exhausted (a replay may still send it)


class PartnerWebhookDelivery(models.Model):
    event = models.ForeignKey(PartnerWebhookEvent, on_delete=models.CASCADE,
                              related_name="deliveries")
    endpoint = models.ForeignKey(PartnerWebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    STATES = StateMachine(initial=[DeliveryStatus.PENDING], transitions={
        "succeed": ([DeliveryStatus.PENDING, DeliveryStatus.FAILED], DeliveryStatus.SUCCEEDED),
        "give_up": ([DeliveryStatus.PENDING], DeliveryStatus.FAILED),
    })
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"],
                                               name="partners_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_id}->{self.endpoint_id}"


class PartnerWebhookAttempt(models.Model):
    """One POST of a delivery: what came back (or the error) and how long it took."""

    delivery = models.ForeignKey(PartnerWebhookDelivery, on_delete=models.CASCADE,
                                 related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")
    replay = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id}@{self.at:%Y-%m-%d %H:%M:%S}"
