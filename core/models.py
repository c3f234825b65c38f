"""The platform's own shared tables: the one idempotency store (``core.idempotency``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` for one kind of request (``scope``: checkout_pay,
    loan_repay, points_pay, partner_order, order_financing, checkout_financing), as its
    ``owner`` (a user, a partner; with the bank for a bank's private data) sent it: the
    fingerprint of the first request with it and the row that request made (``target_id``,
    empty while it is still being processed). Public schema; holds no personal data."""

    scope = models.CharField(max_length=40)
    owner = models.CharField(max_length=60)
    key = models.CharField(max_length=80)
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    target_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "owner", "key"],
                                               name="core_idempotency_key_once")]

    def __str__(self) -> str:
        return f"{self.scope} {self.owner} {self.key}"
