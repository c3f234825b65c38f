"""Writes on accounts: one function per action."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from axes.utils import reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from knox.models import AuthToken
from knox.settings import knox_settings

from accounts.models import Address, BuyerKind, Consent, ConsentPurpose, Division, Segment, User
from accounts.signin import account_of_credentials
from banks.models import BankEvent, StaffMembership, StaffRole
from core.errors import validation_errors
from core.validators import validate_cn_mobile

log = logging.getLogger(__name__)


def _check_phone_free(phone: str, *, exclude_pk: int | None = None) -> None:
    if not phone:
        return
    try:
        validate_cn_mobile(phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages})
    qs = User.objects.filter(phone=phone)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ValidationError({"phone": _("This mobile number is already registered.")})


@transaction.atomic
def user_register(*, username: str, password: str, phone: str = "", display_name: str = "",
                  email: str = "", is_federation_admin: bool = False,
                  buyer_kind: str = BuyerKind.INDIVIDUAL, business_name: str = "") -> User:
    """Create a shopper account (roles are granted separately). A business buyer names
    its business and gets the wholesale tier prices."""
    username = (username or "").strip()
    business_name = (business_name or "").strip()
    errors: dict[str, list[str]] = {}
    if buyer_kind not in BuyerKind.values:
        errors["buyer_kind"] = [_("Choose individual or business buyer.")]
    elif buyer_kind == BuyerKind.BUSINESS and not business_name:
        errors["business_name"] = [_("Enter the business's name.")]
    if not username:
        errors["username"] = [_("Enter a username.")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("This username is taken.")]
    try:
        _check_phone_free(phone)
    except ValidationError as exc:
        errors.update(validation_errors(exc))
    candidate = User(username=username, phone=phone, display_name=display_name, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    user = get_user_model().objects.create_user(
        username=username, password=password, phone=phone, display_name=display_name,
        email=email, is_federation_admin=is_federation_admin,
        is_staff=is_federation_admin, buyer_kind=buyer_kind,
        business_name=business_name if buyer_kind == BuyerKind.BUSINESS else "",
    )
    return user


@transaction.atomic
def user_update_profile(*, user: User, display_name: str, phone: str, email: str = "",
                        segment: str | None = None, language: str | None = None) -> User:
    """The person's own details; ``segment`` (their customer group, blank: rather not
    say) and ``language`` (of their notifications) are left as they are when None."""
    if segment is not None:
        _check_segment(segment)
        user.segment = segment
    if language is not None:
        _check_language(language)
        user.language = language
    _check_phone_free(phone, exclude_pk=user.pk)
    user.display_name = display_name.strip()
    user.phone = phone
    user.email = email
    user.full_clean(exclude=["password", "username"])
    user.save(update_fields=["display_name", "phone", "email", "segment", "language"])
    return user


@transaction.atomic
def user_set_buyer_kind(*, user: User, buyer_kind: str, business_name: str = "") -> User:
    """Make an account a business buyer (wholesale prices) or an individual again."""
    business_name = (business_name or "").strip()
    if buyer_kind not in BuyerKind.values:
        raise ValidationError({"buyer_kind": [_("Choose individual or business buyer.")]})
    if buyer_kind == BuyerKind.BUSINESS and not business_name:
        raise ValidationError({"business_name": [_("Enter the business's name.")]})
    user.buyer_kind = buyer_kind
    user.business_name = business_name if buyer_kind == BuyerKind.BUSINESS else ""
    user.save(update_fields=["buyer_kind", "business_name"])
    return user


def _check_segment(segment) -> None:
    if not isinstance(segment, str) or segment not in ("", *Segment.values):
        raise ValidationError({"segment": [_("Choose a customer group.")]})


def user_set_segment(*, user: User, segment: str) -> User:
    """The customer group a person belongs to (for the banks' reports and the points
    mall's offers); blank: unstated."""
    _check_segment(segment)
    user.segment = segment
    user.save(update_fields=["segment"])
    return user


def _check_language(language) -> None:
    if not isinstance(language, str) or language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": [_("Choose a language the platform offers.")]})


def user_set_language(*, user: User, language: str) -> User:
    """The language the person's notifications are written in: one of LANGUAGES."""
    _check_language(language)
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user


def user_ensure(*, username: str, password: str, **fields) -> tuple[User, bool]:
    """Idempotent creation for the demo province: returns (user, created)."""
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing, False
    return user_register(username=username, password=password, **fields), True


@transaction.atomic
def user_sign_up(*, username: str, password: str, phone: str = "", display_name: str = "",
                 privacy_accepted: bool, behaviour_consent: bool = False,
                 language: str = "") -> User:
    """Registration from the storefront: the account, the privacy notice agreed to (it
    is required, and recorded with the time) and, only if ticked, the consent to record
    browsing and purchases under the account. ``language``: the one the page was in,
    for the person's notifications."""
    if not privacy_accepted:
        raise ValidationError({"privacy_accepted": [
            _("Read and agree to the privacy notice to create an account.")]})
    user = user_register(username=username, password=password, phone=phone,
                         display_name=display_name)
    if language:
        user_set_language(user=user, language=language)
    consent_grant(user=user, purpose=ConsentPurpose.PRIVACY_NOTICE, source="registration")
    if behaviour_consent:
        consent_grant(user=user, purpose=ConsentPurpose.BEHAVIOUR, source="registration")
    return user


@transaction.atomic
def consent_grant(*, user: User, purpose: str, bank=None, source: str = "") -> Consent:
    """Record the person's consent (idempotent: a live consent is returned as it is)."""
    if purpose not in ConsentPurpose.values:
        raise ValidationError({"purpose": [_("Unknown consent purpose.")]})
    live = Consent.objects.select_for_update().filter(
        user=user, bank=bank, purpose=purpose, withdrawn_at__isnull=True).first()
    if live is not None:
        return live
    return Consent.objects.create(user=user, bank=bank, purpose=purpose,
                                  granted_at=timezone.now(), source=source[:40])


@transaction.atomic
def consent_withdraw(*, user: User, purpose: str, bank=None) -> int:
    """Withdraw a live consent; returns how many were withdrawn (0 or 1)."""
    return Consent.objects.filter(user=user, bank=bank, purpose=purpose,
                                  withdrawn_at__isnull=True).update(withdrawn_at=timezone.now())


@transaction.atomic
def sign_in_unlock(*, actor, bank, identifier: str = "", address: str = "") -> int:
    """Clear the failed sign-ins of an account (username or mobile number) and/or of an
    address, so that they may sign in at once. Returns how many records were cleared.

    ``actor`` None is the operator on the server's command line (``manage.py
    sign_in_unlock``), who may unlock anything, like a federation admin.
    A federation admin (on the portal, ``bank`` None) may unlock any account and address.
    A bank admin (on their bank's domain) may unlock shoppers and their own bank's staff,
    never a federation admin or another bank's staff, and no address (an address may be
    shared by the customers of several banks). Each unlock is written to the bank's audit
    trail (``BankEvent``), or the ``accounts.signin`` log for the federation.
    """
    identifier, address = (identifier or "").strip(), (address or "").strip()
    if bank is None:
        if actor is not None and not getattr(actor, "is_federation_admin", False):
            raise PermissionDenied
    elif actor is None or not StaffMembership.objects.filter(user=actor, bank=bank,
                                            role=StaffRole.BANK_ADMIN).exists():
        raise PermissionDenied
    if not identifier and not address:
        raise ValidationError({"username": [_("Enter the username or mobile number.")]})
    if address and bank is not None:
        raise ValidationError({"address": [_("Only the federation can unlock an address.")]})
    user = None
    if identifier:
        username = account_of_credentials(None, {"username": identifier})
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError({"username": [_("No account has this username or mobile "
                                                  "number.")]})
        if bank is not None and (user.is_federation_admin or StaffMembership.objects.filter(
                user=user).exclude(bank=bank).exists()):
            raise ValidationError({"username": [_("This account is not one your bank can "
                                                  "unlock.")]})
    cleared = 0
    if user is not None:
        cleared += reset(username=user.username)
    if address:
        cleared += reset(ip=address)
    detail = {"user_id": user.pk if user else None,
              "username": user.username if user else "", "address": address,
              "cleared": cleared}
    if bank is not None:
        BankEvent.objects.create(bank=bank, actor=actor, action="sign_in_unlocked",
                                 detail=detail)
    log.warning("sign-in unlocked by %s (bank %s): %s",
                                        getattr(actor, "username", "the operator"),
                                        bank.code if bank else "-", detail)
    return cleared


@transaction.atomic
def api_token_create(*, user: User):
    """A new API token for ``user``: returns the stored row and the token itself, which is
    shown once (only its hash is kept)."""
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is not None and AuthToken.objects.filter(
            user=user, expiry__gt=timezone.now()).count() >= limit:
        raise ValidationError({"non_field_errors": [
            _("You have %(n)d tokens already: revoke one first.") % {"n": limit}]})
    return AuthToken.objects.create(user=user)


@transaction.atomic
def api_token_revoke(*, user: User, token_key: str) -> int:
    """Revoke the caller's own token(s) starting with ``token_key``; returns how many."""
    if not token_key:
        return 0
    deleted, _per_model = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    return deleted


def api_tokens_delete_expired() -> int:
    """Delete every API token past its expiry; returns how many (the authentication reads
    only the request's own token, so expired ones of other sessions wait for this)."""
    deleted, _per_model = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted


# --- address book --------------------------------------------------------------------------

ADDRESS_BOOK_LIMIT = 20


@dataclass(frozen=True)
class AddressSpec:
    recipient_name: str
    recipient_phone: str
    division: str          # the township's code (or a county's without townships)
    detail: str            # village, street and number
    is_default: bool = False


def _address_fields(spec: AddressSpec) -> dict:
    errors: dict[str, list[str]] = {}
    name = (spec.recipient_name or "").strip()
    phone = (spec.recipient_phone or "").strip()
    detail = " ".join((spec.detail or "").split())
    code = (spec.division or "").strip()
    if not name:
        errors["recipient_name"] = [_("Enter the recipient's name.")]
    elif len(name) > 40:
        errors["recipient_name"] = [_("At most 40 characters.")]
    try:
        validate_cn_mobile(phone)
    except ValidationError as exc:
        errors["recipient_phone"] = exc.messages
    division = Division.objects.filter(code=code).first() if code.isdigit() else None
    if division is None:
        errors["division"] = [_("Choose the province, city, county and township.")]
    elif Division.objects.filter(parent=division).exists():
        errors["division"] = [_("Choose down to the township.")]
    if len(detail) < 2:
        errors["detail"] = [_("Enter the village, street and number.")]
    elif len(detail) > 120:
        errors["detail"] = [_("At most 120 characters.")]
    if errors:
        raise ValidationError(errors)
    return {"recipient_name": name, "recipient_phone": phone, "division": division,
            "detail": detail}


def address_validate(*, spec: AddressSpec) -> dict:
    """An address checked as the address book checks its entries (a ValidationError with
    field messages otherwise), for addresses given outside a book (a partner platform's
    order): the recipient, phone, township ``Division`` and detail."""
    return _address_fields(spec)


def _lock_book(user: User) -> None:
    # One writer per address book at a time: the default flag and the size limit hold.
    User.objects.select_for_update().filter(pk=user.pk).first()


def _make_default(user: User, entry: Address) -> None:
    Address.objects.filter(user=user, is_default=True).exclude(pk=entry.pk).update(
        is_default=False)
    if not entry.is_default:
        entry.is_default = True
        entry.save(update_fields=["is_default"])


@transaction.atomic
def address_create(*, user: User, spec: AddressSpec) -> Address:
    """Add an entry to the person's address book; the first entry is the default."""
    fields = _address_fields(spec)
    _lock_book(user)
    count = Address.objects.filter(user=user).count()
    if count >= ADDRESS_BOOK_LIMIT:
        raise ValidationError({"non_field_errors": [
            _("An address book holds at most %(n)d addresses.") % {"n": ADDRESS_BOOK_LIMIT}]})
    entry = Address.objects.create(user=user, **fields)
    if spec.is_default or count == 0:
        _make_default(user, entry)
    return entry


@transaction.atomic
def address_update(*, user: User, address_id: int, spec: AddressSpec) -> Address:
    """Change one of the person's own entries (anyone else's: Address.DoesNotExist).
    Orders already sent there keep the address they were sent to."""
    fields = _address_fields(spec)
    _lock_book(user)
    entry = Address.objects.get(user=user, pk=address_id)
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.save(update_fields=[*fields])
    if spec.is_default:
        _make_default(user, entry)
    return entry


@transaction.atomic
def address_set_default(*, user: User, address_id: int) -> Address:
    _lock_book(user)
    entry = Address.objects.get(user=user, pk=address_id)
    _make_default(user, entry)
    return entry


@transaction.atomic
def address_delete(*, user: User, address_id: int) -> None:
    """Remove one of the person's own entries; if it was the default, the newest
    remaining entry becomes the default."""
    _lock_book(user)
    entry = Address.objects.get(user=user, pk=address_id)
    entry.delete()
    if entry.is_default:
        newest = Address.objects.filter(user=user).order_by("-created_at", "-id").first()
        if newest is not None:
            _make_default(user, newest)
