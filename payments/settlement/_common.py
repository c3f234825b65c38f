"""What the settlement modules share."""

from __future__ import annotations

from decimal import Decimal

from payments.models import AccountKind

ZERO = Decimal("0.00")
K = AccountKind
