"""The inbox (站内信): what happened that a person should know, and which of it also comes
by text message.

Shared (public schema): one inbox per person, whatever bank's storefront or console the
events come from. A row is written after the action that caused it has committed, at most
once per person and event (``dedupe_key``); see ``notifications.receivers``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from banks.models import Bank


class Kind(models.TextChoices):
    # the shopper
    ORDER_PAID = "order_paid", _("Payment received")
    ORDER_SHIPPED = "order_shipped", _("Order shipped")
    PICKUP_READY = "pickup_ready", _("Ready for pickup at the branch")
    ORDER_DELIVERED = "order_delivered", _("Order delivered")
    REFUND_DECIDED = "refund_decided", _("Refund decided")
    RETURN_DECIDED = "return_decided", _("Return decided")
    INVOICE_DECIDED = "invoice_decided", _("Invoice issued or refused")
    # both sides of an order's thread (ask the shop)
    ORDER_MESSAGE = "order_message", _("New message about an order")
    ORDER_RECALLED = "order_recalled", _("Goods of an order recalled")
    # borrowers (shoppers and merchants)
    FINANCING_DECIDED = "financing_decided", _("Financing application decided")
    INSTALMENT_DUE = "instalment_due", _("Instalment due soon")
    INSTALMENT_OVERDUE = "instalment_overdue", _("Instalment overdue")
    # points holders
    POINTS_EXPIRING = "points_expiring", _("Points about to expire")
    # merchants
    NEW_ORDER = "new_order", _("New order to fulfil")
    REFUND_REQUESTED = "refund_requested", _("Refund requested")
    RETURN_TO_HANDLE = "return_to_handle", _("Return to handle")
    INVOICE_REQUESTED = "invoice_requested", _("Invoice requested")
    DISPUTE_RAISED = "dispute_raised", _("Dispute raised on an order")
    ADMISSION_DECIDED = "admission_decided", _("Shop admission decided")
    # bank staff
    APPLICATION_SUBMITTED = "application_submitted", _("Financing application to review")


# Which kinds come by text message unless the person says otherwise: what needs acting
# on soon (goods waiting at a branch, money back or not, a due or missed instalment).
BY_TEXT_DEFAULT: dict[str, bool] = {
    Kind.ORDER_PAID: False,
    Kind.ORDER_SHIPPED: False,
    Kind.PICKUP_READY: True,
    Kind.ORDER_DELIVERED: False,
    Kind.REFUND_DECIDED: True,
    Kind.RETURN_DECIDED: True,
    Kind.INVOICE_DECIDED: False,
    Kind.ORDER_RECALLED: True,
    Kind.FINANCING_DECIDED: True,
    Kind.INSTALMENT_DUE: True,
    Kind.INSTALMENT_OVERDUE: True,
    Kind.NEW_ORDER: True,
    Kind.REFUND_REQUESTED: True,
    Kind.RETURN_TO_HANDLE: True,
    Kind.INVOICE_REQUESTED: False,
    Kind.DISPUTE_RAISED: True,
    Kind.ADMISSION_DECIDED: True,
    Kind.APPLICATION_SUBMITTED: False,
    Kind.ORDER_MESSAGE: False,
    Kind.POINTS_EXPIRING: True,
}


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    title = models.CharField(max_length=120)
    body = models.CharField(max_length=500, blank=True, default="")
    # A path on the domain of ``bank`` (its storefront or console), or on any domain
    # (the portal's pages are on every domain) when ``bank`` is empty.
    link = models.CharField(max_length=300, blank=True, default="")
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+")
    # What the row is about, once per person: "order:<event id>:buyer" and the like.
    dedupe_key = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # The text message: when it was handed to the SMS gateway (empty: not sent, or not
    # wanted).
    texted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dedupe_key"],
                                    name="notifications_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True),
                         name="notifications_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Preference(models.Model):
    """A person's choice for one kind; without a row, ``BY_TEXT_DEFAULT`` holds."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notification_preferences")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    by_text = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notifications_pref_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.by_text}"
