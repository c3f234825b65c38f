"""Food-safety recalls: batches withdrawn from sale whose orders' money is held.

Shared (public schema): a recall covers merchants' batches and buyers' orders, which are
public rows; it is opened by the merchant's bank or by the federation. It sits above
``catalog``, ``orders`` and ``payments`` and is imported by none of them: they read the
flags it sets on their own rows (``Batch.recalled_at``, ``Order.held_reason``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from banks.models import Bank
from catalog.models import Batch
from core.states import StateMachine
from orders.models import Order


class RecallStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class RecallResolution(models.TextChoices):
    REFUND_ALL = "refund_all", _("Refund every held order")
    RELEASE = "release", _("Release the holds")


class Recall(models.Model):
    """A recall of one or more batches. ``bank``: the bank whose staff opened it (None:
    the federation); its batches are all of that bank's merchants then."""

    number = models.CharField(max_length=24, unique=True)
    bank = models.ForeignKey(Bank, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")
    reason = models.CharField(_("reason"), max_length=300)
    batches = models.ManyToManyField(Batch, related_name="recalls")
    status = models.CharField(max_length=10, choices=RecallStatus.choices,
                              default=RecallStatus.OPEN)
    STATES = StateMachine(initial=[RecallStatus.OPEN], transitions={
        "close": ([RecallStatus.OPEN], RecallStatus.CLOSED),
    })
    resolution = models.CharField(_("resolution"), max_length=12, blank=True, default="",
                                  choices=RecallResolution.choices)
    resolution_note = models.CharField(max_length=300, blank=True, default="")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  null=True, blank=True, related_name="+")
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # Figures of the opening and the closing, for the pages (orders held, refunded).
    orders_held = models.PositiveIntegerField(default=0)
    orders_refunded = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["status", "-opened_at"])]

    def __str__(self) -> str:
        return self.number


class RecallOrder(models.Model):
    """An order a recall holds (written set-based when the recall opens)."""

    recall = models.ForeignKey(Recall, on_delete=models.CASCADE, related_name="held")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recall", "order"], name="recalls_order_once"),
        ]
        indexes = [models.Index(fields=["order"])]

    def __str__(self) -> str:
        return f"{self.recall_id}:{self.order_id}"
