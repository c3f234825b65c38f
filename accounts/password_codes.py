"""Setting a password with a code texted to the mobile number: how a customer that a
branch desk registered (no password yet) signs in for the first time, and how anyone who
forgot theirs gets back in.

- ``password_code_send``: answers the same whether or not an account has the number (no
  one learns who is a customer), texts a 6-digit code valid ``PASSWORD_CODE_MINUTES`` (10)
  when one has, at most ``PASSWORD_CODES_PER_HOUR`` (5) asks per number (counted in the
  cache for every number alike, and the codes sent counted again in the database, exact
  even when the cache is down), plus a per-address limit in the cache.
- ``password_code_set``: the number, the code and the new password; the latest live code
  only, ``PASSWORD_CODE_TRIES`` (5) wrong tries kill it (each wrong try is committed
  before the refusal), a right one is used once. A weak password is refused without
  using the code up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import PasswordCode
from core import throttle
from core.errors import ApplicationError
from core.sms import send_sms_on_commit
from core.validators import validate_cn_mobile

CODE_MINUTES = 10
CODES_PER_HOUR = 5
CODE_TRIES = 5
CODES_PER_ADDRESS_HOUR = 20


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _digits(phone) -> str:
    digits = "".join(ch for ch in str(phone or "") if ch.isdigit())
    try:
        validate_cn_mobile(digits)
    except ValidationError:
        raise ValidationError({"phone": [_("Enter an 11-digit mobile number.")]}) from None
    return digits


def _hash(code: str, phone: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"password-code:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def password_code_send(*, phone, client_address: str = "") -> None:
    """Text a code to ``phone`` if an account has it. Raises only for a malformed number
    or when too many codes were asked for (the same for every number)."""
    phone = _digits(phone)
    hour_ago = timezone.now() - timedelta(hours=1)
    per_phone = _setting("PASSWORD_CODES_PER_HOUR", CODES_PER_HOUR)
    asked = throttle.hit(f"pwcode:phone:{phone}", window_seconds=3600)  # every number alike
    if asked > per_phone \
            or PasswordCode.objects.filter(phone=phone, created_at__gte=hour_ago).count() \
            >= per_phone \
            or (client_address and throttle.hit(f"pwcode:addr:{client_address}",
                                                window_seconds=3600)
                > _setting("PASSWORD_CODES_PER_ADDRESS_HOUR", CODES_PER_ADDRESS_HOUR)):
        raise ApplicationError(_("Too many codes were asked for: try again in an hour."),
                               field="phone", code="throttled")
    user = get_user_model().objects.filter(phone=phone, is_active=True).first()
    if user is None:
        return  # the same answer as for a customer: nobody learns who has an account
    code = f"{secrets.randbelow(10**6):06d}"
    minutes = _setting("PASSWORD_CODE_MINUTES", CODE_MINUTES)
    PasswordCode.objects.create(user=user, phone=phone, code_hash=_hash(code, phone),
                                expires_at=timezone.now() + timedelta(minutes=minutes))
    send_sms_on_commit(phone, _(
        "Your code to set your password is %(code)s, valid for %(minutes)s minutes. "
        "Do not tell anyone, not even bank staff.") % {"code": code, "minutes": minutes})


def password_code_set(*, phone, code: str, password: str):
    """Set the password of the account with ``phone`` when ``code`` is its latest live
    code; the account, or a ValidationError (``code`` or ``password``)."""
    phone = _digits(phone)
    code = (code or "").strip()
    wrong = ValidationError({"code": [_("The code is wrong or has expired: ask for a new "
                                        "one.")]})
    with transaction.atomic():
        live = (PasswordCode.objects.select_for_update().select_related("user")
                .filter(phone=phone, used_at__isnull=True, expires_at__gt=timezone.now(),
                        wrong_tries__lt=_setting("PASSWORD_CODE_TRIES", CODE_TRIES))
                .order_by("-created_at", "-id").first())
        if live is None:
            raise wrong
        if not hmac.compare_digest(live.code_hash, _hash(code, phone)):
            live.wrong_tries += 1
            live.save(update_fields=["wrong_tries"])
            matched = False
        else:
            matched = True
    if not matched:
        raise wrong  # after the wrong try was committed
    with transaction.atomic():
        live = PasswordCode.objects.select_for_update().select_related("user").get(pk=live.pk)
        if live.used_at is not None:
            raise wrong
        user = live.user
        try:
            validate_password(password, user=user)
        except ValidationError as exc:
            raise ValidationError({"password": list(exc.messages)}) from None
        user.set_password(password)
        user.save(update_fields=["password"])
        live.used_at = timezone.now()
        live.save(update_fields=["used_at"])
        # every other code of the number dies with this one
        PasswordCode.objects.filter(phone=phone, used_at__isnull=True).update(
            used_at=live.used_at)
    return user
