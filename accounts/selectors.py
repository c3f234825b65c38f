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


def api_token_list(*, user):
    """The caller's live API tokens, newest first (the key is the token's first
    characters, enough to recognise it; the token itself is never stored)."""
    from django.utils import timezone
    from knox.models import AuthToken

    return (AuthToken.objects.filter(user=user)
            .exclude(expiry__lte=timezone.now()).order_by("-created"))
