"""Writes on accounts: one function per action."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import BuyerKind, Consent, ConsentPurpose, Segment, User
from core.errors import validation_errors
from core.validators import validate_cn_mobile


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
def user_update_profile(*, user: User, display_name: str, phone: str, email: str = "") -> User:
    _check_phone_free(phone, exclude_pk=user.pk)
    user.display_name = display_name.strip()
    user.phone = phone
    user.email = email
    user.full_clean(exclude=["password", "username"])
    user.save(update_fields=["display_name", "phone", "email"])
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


def user_set_segment(*, user: User, segment: str) -> User:
    """The customer group a person belongs to (for the banks' reports); blank: unstated."""
    if segment not in ("", *Segment.values):
        raise ValidationError({"segment": [_("Choose a customer group.")]})
    user.segment = segment
    user.save(update_fields=["segment"])
    return user


def user_ensure(*, username: str, password: str, **fields) -> tuple[User, bool]:
    """Idempotent creation for the demo province: returns (user, created)."""
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing, False
    return user_register(username=username, password=password, **fields), True


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
