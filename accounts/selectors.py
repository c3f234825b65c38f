"""Reads on accounts."""

from __future__ import annotations

from accounts.models import Consent


def has_consent(*, user_id: int, purpose: str, bank_id: int | None = None) -> bool:
    return Consent.objects.filter(user_id=user_id, bank_id=bank_id, purpose=purpose,
                                  withdrawn_at__isnull=True).exists()


def consenting_user_ids(*, purpose: str, bank_id: int | None = None) -> set[int]:
    return set(Consent.objects.filter(bank_id=bank_id, purpose=purpose,
                                      withdrawn_at__isnull=True)
               .values_list("user_id", flat=True))
