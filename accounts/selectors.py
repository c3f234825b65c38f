"""Reads on accounts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from knox.models import AuthToken

from accounts.divisions import UNWRITTEN
from accounts.models import Address, Consent, Division


def has_consent(*, user_id: int, purpose: str, bank_id: int | None = None) -> bool:
    return Consent.objects.filter(user_id=user_id, bank_id=bank_id, purpose=purpose,
                                  withdrawn_at__isnull=True).exists()


def consenting_user_ids(*, purpose: str, bank_id: int | None = None) -> set[int]:
    return set(Consent.objects.filter(bank_id=bank_id, purpose=purpose,
                                      withdrawn_at__isnull=True)
               .values_list("user_id", flat=True))


def consents_of(*, user) -> list[Consent]:
    """The person's live consents (the privacy notice, behaviour data, each bank's credit
    use), oldest first, for the profile's privacy box and the API."""
    return list(Consent.objects.filter(user=user, withdrawn_at__isnull=True)
                .select_related("bank").order_by("granted_at", "id"))


def api_token_list(*, user):
    """The caller's live API tokens, newest first (the key is the token's first
    characters, enough to recognise it; the token itself is never stored)."""
    return (AuthToken.objects.filter(user=user)
            .exclude(expiry__lte=timezone.now()).order_by("-created"))


# --- address book --------------------------------------------------------------------------


def division_children(*, parent: str = "") -> list[Division]:
    """The divisions directly under ``parent`` (the provinces without one). An unknown
    parent code raises ``Division.DoesNotExist``."""
    if parent and not Division.objects.filter(code=parent).exists():
        raise Division.DoesNotExist(parent)
    return list(Division.objects.filter(parent_id=parent or None).only("code", "name", "level"))


def _prefixes(code: str) -> list[str]:
    return [code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)]


def division_path(code: str) -> list[Division]:
    """Province down to the division ``code`` (at most five rows, one query)."""
    found = {d.code: d for d in Division.objects.filter(code__in=_prefixes(code))}
    return [found[c] for c in _prefixes(code) if c in found]


def division_text(path: list[Division]) -> str:
    """How the divisions are written on a parcel: 浙江省杭州市西湖区西溪街道 (placeholders
    such as 市辖区 left out)."""
    return "".join(d.name for d in path if d.name not in UNWRITTEN)


def addresses_of(*, user) -> list[Address]:
    """The person's address book, the default first, each with ``region`` (the written
    divisions) and ``path`` (the division codes, province first) set."""
    entries = list(Address.objects.filter(user=user))
    codes = {c for entry in entries for c in _prefixes(entry.division_id)}
    found = {d.code: d for d in Division.objects.filter(code__in=codes)}
    for entry in entries:
        entry.path = [found[c] for c in _prefixes(entry.division_id) if c in found]
        entry.region = division_text(entry.path)
    return entries


def address_of(*, user, address_id) -> Address:
    """One entry of the person's own book; anyone else's is ``Address.DoesNotExist``."""
    try:
        entry = Address.objects.select_related("division").get(user=user, pk=int(address_id))
    except (TypeError, ValueError):
        raise Address.DoesNotExist(address_id) from None
    entry.path = division_path(entry.division_id)
    entry.region = division_text(entry.path)
    return entry


def address_default(*, user) -> Address | None:
    entry = Address.objects.filter(user=user, is_default=True).first()
    return address_of(user=user, address_id=entry.pk) if entry else None


def address_for_delivery(*, user, address_id) -> dict[str, str]:
    """What a checkout copies from a book entry: recipient, phone and the address as
    written (divisions then detail). Not the person's own entry: a ValidationError on
    ``address_id``."""
    try:
        entry = address_of(user=user, address_id=address_id)
    except Address.DoesNotExist:
        raise ValidationError({"address_id": _("Choose one of your saved addresses.")})
    return {"recipient_name": entry.recipient_name, "recipient_phone": entry.recipient_phone,
            "address": f"{entry.region}{entry.detail}"[:200]}


def user_by_login(identifier: str):
    """The account a person signs in with: its username, or its mobile number (11 digits).
    None when nothing matches."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    users = get_user_model().objects
    if identifier.isdigit() and len(identifier) == 11:
        found = users.filter(phone=identifier).first()
        if found is not None:
            return found
    return users.filter(username=identifier).first()
