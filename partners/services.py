"""Writes on partner platforms: registering and changing a partner, its status, the banks
it may sell, a bank's opt-out, and its API keys (create, rotate, revoke, use).

Every change of a partner writes one audit event in the same transaction, in the one
trail of the federation and the banks (``banks.services.bank_audit``: a ``BankEvent``
with the partner as its object and the changes before/after; without a bank for the
federation's own decisions, with the bank for a bank's opt-out, so that it is on that
bank's audit page too). Changes that alter which products a partner's catalog holds touch
those products (``catalog.services.products_touch``), so that the change feed reports
them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank, BankEvent
from banks.services import bank_audit, person_by_login
from catalog.services import products_touch
from core.errors import ApplicationError
from core.validators import validate_cn_mobile
from core.writes import Change, lock, register_audit, transition
from partners.models import (
    BankPartnerOptOut,
    MemberRole,
    Partner,
    PartnerKey,
    PartnerKind,
    PartnerMember,
    Scope,
)

log = logging.getLogger(__name__)

FEE_RATE_MAX = Decimal("0.2")
KEY_PREFIX = "pk_"
# A key's use is written to its row at most this often; between, Redis counts.
USE_FLUSH_SECONDS = 60


def _snapshot(partner: Partner) -> dict:
    return {"name": partner.name, "kind": partner.kind, "contact_name": partner.contact_name,
            "contact_phone": partner.contact_phone, "contact_email": partner.contact_email,
            "fee_rate": str(partner.fee_rate), "status": partner.status}


def _event(partner: Partner, *, actor, action: str, before: dict | None = None,
           after: dict | None = None, bank: Bank | None = None) -> BankEvent:
    before, after = before or {}, after or {}
    changes = {name: (before.get(name), after.get(name))
               for name in sorted(set(before) | set(after))}
    return bank_audit(bank=bank, actor=actor, action=f"partner_{action}", target=partner,
                      changes=changes)


def _clean_fields(*, name: str, kind: str, contact_name: str, contact_phone: str,
                  contact_email: str, fee_rate, exclude_pk: int | None = None) -> dict:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Give a name.")]
    elif (Partner.objects.filter(name=name).exclude(pk=exclude_pk or 0)).exists():
        errors["name"] = [_("A partner of this name is already registered.")]
    if kind not in PartnerKind.values:
        errors["kind"] = [_("Choose a kind.")]
    contact_name = (contact_name or "").strip()
    if not contact_name:
        errors["contact_name"] = [_("Give a contact person.")]
    contact_phone = (contact_phone or "").strip()
    try:
        validate_cn_mobile(contact_phone)
    except ValidationError as exc:
        errors["contact_phone"] = list(exc.messages)
    contact_email = (contact_email or "").strip()
    if contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            errors["contact_email"] = [_("Enter a valid email address.")]
    rate = None
    try:
        rate = Decimal(str(fee_rate).strip())
        if not rate.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors["fee_rate"] = [_("Give the fee rate as a decimal, e.g. 0.015.")]
    else:
        if not Decimal("0") <= rate <= FEE_RATE_MAX:
            errors["fee_rate"] = [_("The fee rate must be between 0 and 0.2.")]
        elif rate != rate.quantize(Decimal("0.0001")):
            errors["fee_rate"] = [_("The fee rate has at most four decimal places.")]
    if errors:
        raise ValidationError(errors)
    return {"name": name, "kind": kind, "contact_name": contact_name,
            "contact_phone": contact_phone, "contact_email": contact_email,
            "fee_rate": rate}


@transaction.atomic
def partner_register(*, acting_user, name: str, kind: str, contact_name: str,
                     contact_phone: str, contact_email: str = "", fee_rate,
                     banks: Iterable[Bank] = ()) -> Partner:
    fields = _clean_fields(name=name, kind=kind, contact_name=contact_name,
                           contact_phone=contact_phone, contact_email=contact_email,
                           fee_rate=fee_rate)
    partner = Partner.objects.create(**fields)
    _event(partner, actor=acting_user, action="register", after=_snapshot(partner))
    banks = list(banks)
    if banks:
        partner_set_banks(partner=partner, banks=banks, acting_user=acting_user)
    return partner


@transaction.atomic
def partner_update(*, partner: Partner, acting_user, name: str, kind: str, contact_name: str,
                   contact_phone: str, contact_email: str = "", fee_rate) -> Partner:
    locked = Partner.objects.select_for_update().get(pk=partner.pk)
    fields = _clean_fields(name=name, kind=kind, contact_name=contact_name,
                           contact_phone=contact_phone, contact_email=contact_email,
                           fee_rate=fee_rate, exclude_pk=locked.pk)
    before = _snapshot(locked)
    for field, value in fields.items():
        setattr(locked, field, value)
    locked.save(update_fields=list(fields))
    _event(locked, actor=acting_user, action="update", before=before,
           after=_snapshot(locked))
    return locked


def _audit(change: Change) -> None:
    assert isinstance(change.row, Partner)
    _event(change.row, actor=change.actor, action=change.action,
           before={"status": change.before},
           after={"status": change.after, "reason": change.note})


register_audit(Partner, _audit)


def _transition(partner: Partner, *, action: str, acting_user, reason: str = "") -> Partner:
    locked = lock(partner)
    transition(locked, action, actor=acting_user, note=reason, save_fields=(), message=_(
        "A partner that is “%(status)s” cannot take this step.")
        % {"status": locked.get_status_display()})
    partner.refresh_from_db(fields=["status"])  # the caller's copy, as the row is now
    return locked


@transaction.atomic
def partner_suspend(*, partner: Partner, acting_user, reason: str = "") -> Partner:
    """Every key of the partner answers 403 while it is suspended."""
    return _transition(partner, action="suspend", acting_user=acting_user, reason=reason)


@transaction.atomic
def partner_reactivate(*, partner: Partner, acting_user) -> Partner:
    return _transition(partner, action="reactivate", acting_user=acting_user)


@transaction.atomic
def partner_close(*, partner: Partner, acting_user, reason: str = "") -> Partner:
    """For good: the keys are revoked as well."""
    locked = _transition(partner, action="close", acting_user=acting_user, reason=reason)
    PartnerKey.objects.filter(partner=locked, revoked_at__isnull=True).update(
        revoked_at=timezone.now())
    return locked


@transaction.atomic
def partner_set_banks(*, partner: Partner, banks: Iterable[Bank], acting_user) -> Partner:
    """The member banks whose merchants the partner may sell (replaces the list)."""
    locked = Partner.objects.select_for_update().get(pk=partner.pk)
    before = set(locked.banks.values_list("pk", flat=True))
    wanted = {bank.pk for bank in banks}
    if wanted - set(Bank.objects.filter(pk__in=wanted).values_list("pk", flat=True)):
        raise ValidationError({"banks": [_("Choose member banks.")]})
    if wanted == before:
        return locked
    locked.banks.set(wanted)
    codes = dict(Bank.objects.filter(pk__in=before | wanted).values_list("pk", "code"))
    _event(locked, actor=acting_user, action="set_banks",
           before={"banks": sorted(codes[pk] for pk in before)},
           after={"banks": sorted(codes[pk] for pk in wanted)})
    # The products that come in or go out are changes in the partner's feed.
    products_touch(bank_ids=sorted(before ^ wanted))
    return locked


@transaction.atomic
def bank_partner_opt_out(*, bank: Bank, partner: Partner, acting_user) -> bool:
    """The bank keeps its merchants out of the partner's catalog; False if it already
    had."""
    _opt_out, created = BankPartnerOptOut.objects.get_or_create(bank=bank, partner=partner)
    if created:
        _event(partner, actor=acting_user, action="bank_opt_out", after={"bank": bank.code},
               bank=bank)
        products_touch(bank_ids=[bank.pk])
    return created


@transaction.atomic
def bank_partner_opt_in(*, bank: Bank, partner: Partner, acting_user) -> bool:
    deleted, _n = BankPartnerOptOut.objects.filter(bank=bank, partner=partner).delete()
    if deleted:
        _event(partner, actor=acting_user, action="bank_opt_in", after={"bank": bank.code},
               bank=bank)
        products_touch(bank_ids=[bank.pk])
    return bool(deleted)


# --- members: the partner's own people in the partner console --------------------------


@transaction.atomic
def member_add(*, partner: Partner, person: str, role: str, acting_user) -> PartnerMember:
    """Give the person (by mobile number or username) a place in the partner's console:
    ``admin`` manages keys and webhooks, ``viewer`` only reads. A member already there
    takes the new role."""
    errors: dict[str, list[str]] = {}
    user = None
    try:
        user = person_by_login(person)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if role not in MemberRole.values:
        errors["role"] = [_("Choose a role.")]
    if errors or user is None:
        raise ValidationError(errors)
    if partner.status == "closed":
        raise ApplicationError(_("A closed partner gets no new members."),
                               code="illegal_transition")
    member = PartnerMember.objects.select_for_update().filter(partner=partner,
                                                              user=user).first()
    before = {"user": user.username, "role": member.role} if member else {}
    if member is None:
        member = PartnerMember.objects.create(partner=partner, user=user, role=role)
    elif member.role != role:
        member.role = role
        member.save(update_fields=["role"])
    else:
        return member
    _event(partner, actor=acting_user, action="member_add", before=before,
           after={"user": user.username, "role": role})
    return member


@transaction.atomic
def member_remove(*, member: PartnerMember, acting_user) -> None:
    """The person leaves the partner's console at once."""
    locked = (PartnerMember.objects.select_for_update().select_related("user", "partner")
              .filter(pk=member.pk).first())
    if locked is None:
        return
    before = {"user": locked.user.username, "role": locked.role}
    locked.delete()
    _event(locked.partner, actor=acting_user, action="member_remove", before=before)


# --- API keys ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewKey:
    key: PartnerKey
    secret: str  # the whole key, pk_<prefix>_<secret>: shown once, never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = list(dict.fromkeys(scopes or ()))
    if not scopes:
        raise ValidationError({"scopes": [_("Choose at least one scope.")]})
    if unknown := [s for s in scopes if s not in Scope.values]:
        raise ValidationError({"scopes": [_("Unknown scope: %(scope)s.")
                                          % {"scope": ", ".join(map(str, unknown))}]})
    return scopes


@transaction.atomic
def key_create(*, partner: Partner, name: str, scopes: Iterable[str], acting_user,
               expires_at: datetime | None = None, rotated_from: PartnerKey | None = None,
               ) -> NewKey:
    """A new key; its full value is in the answer only."""
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Give the key a name.")]
    clean: list[str] = []
    try:
        clean = _clean_scopes(scopes)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = [_("The expiry must be in the future.")]
    if errors:
        raise ValidationError(errors)
    if partner.status == "closed":
        raise ApplicationError(_("A closed partner gets no new keys."),
                               code="illegal_transition")
    prefix = secrets.token_hex(4)
    while PartnerKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = PartnerKey.objects.create(partner=partner, name=name, prefix=prefix,
                                    secret_hash=_hash(secret), scopes=clean,
                                    expires_at=expires_at, created_by=acting_user,
                                    rotated_from=rotated_from)
    _event(partner, actor=acting_user, action="key_create",
           after={"key": prefix, "name": name, "scopes": clean,
                  "expires_at": expires_at.isoformat() if expires_at else None})
    return NewKey(key=key, secret=f"{KEY_PREFIX}{prefix}_{secret}")


@transaction.atomic
def key_rotate(*, key: PartnerKey, acting_user, overlap_hours: int = 24) -> NewKey:
    """A new key with the same scopes; the old one keeps working ``overlap_hours`` (0 to
    720) and then expires, so that the partner can switch without a gap."""
    locked = PartnerKey.objects.select_for_update().select_related("partner").get(pk=key.pk)
    if locked.revoked_at is not None:
        raise ApplicationError(_("A revoked key cannot be rotated."),
                               code="illegal_transition")
    try:
        overlap_hours = int(overlap_hours)
    except (TypeError, ValueError):
        overlap_hours = -1
    if not 0 <= overlap_hours <= 720:
        raise ValidationError({"overlap_hours": [_(
            "The overlap is between 0 and 720 hours.")]})
    now = timezone.now()
    if locked.expires_at is not None and locked.expires_at <= now:
        raise ApplicationError(_("This key has expired."), code="illegal_transition")
    new = key_create(partner=locked.partner, name=locked.name, scopes=locked.scopes,
                     acting_user=acting_user, rotated_from=locked)
    old_expiry = locked.expires_at
    locked.expires_at = now + timedelta(hours=overlap_hours)
    if old_expiry is not None and old_expiry < locked.expires_at:
        locked.expires_at = old_expiry
    locked.save(update_fields=["expires_at"])
    _event(locked.partner, actor=acting_user, action="key_rotate",
           before={"key": locked.prefix},
           after={"key": new.key.prefix, "old_expires_at": locked.expires_at.isoformat()})
    key.expires_at = locked.expires_at
    return new


@transaction.atomic
def key_revoke(*, key: PartnerKey, acting_user) -> PartnerKey:
    """At once: the next request with it is refused."""
    locked = PartnerKey.objects.select_for_update().get(pk=key.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        _event(locked.partner, actor=acting_user, action="key_revoke",
               after={"key": locked.prefix})
    key.revoked_at = locked.revoked_at
    return locked


class KeyRefused(Exception):
    """The key given cannot be used (the message says why, for a 401)."""


def key_authenticate(raw: str) -> PartnerKey:
    """The key a request presents, checked: well-formed, known, the secret matching (in
    constant time), not revoked, not expired. Raises ``KeyRefused``."""
    raw = (raw or "").strip()
    if not raw.startswith(KEY_PREFIX):
        raise KeyRefused(_("Invalid API key."))
    prefix, sep, secret = raw[len(KEY_PREFIX):].partition("_")
    if not sep or len(prefix) != 8 or not secret:
        raise KeyRefused(_("Invalid API key."))
    key = (PartnerKey.objects.select_related("partner").filter(prefix=prefix).first())
    # Compare even when no row was found, so that timing does not tell prefixes apart.
    expected = key.secret_hash if key is not None else "0" * 64
    if not hmac.compare_digest(expected, _hash(secret)) or key is None:
        raise KeyRefused(_("Invalid API key."))
    if key.revoked_at is not None:
        raise KeyRefused(_("API key revoked."))
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise KeyRefused(_("API key expired."))
    return key


def _pending_key(key_id: int) -> str:
    return f"partners:key-uses:{key_id}"


def key_record_use(key: PartnerKey) -> None:
    """Count one use of the key without a write per request: Redis counts every use; the
    row takes the count (and ``last_used_at``) at most once a minute, by the request that
    wins a conditional UPDATE. Without Redis, only the flushing requests are counted."""
    now = timezone.now()
    pending_key = _pending_key(key.pk)
    try:
        cache.add(pending_key, 0, timeout=None)
        cache.incr(pending_key)
    except Exception:  # noqa: BLE001 - the cache is away: count what we write
        log.warning("key use of %s not counted in the cache", key.pk, exc_info=True)
    due = now - timedelta(seconds=USE_FLUSH_SECONDS)
    if key.last_used_at is not None and key.last_used_at > due:
        return
    won = PartnerKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=due), pk=key.pk,
    ).update(last_used_at=now)
    if not won:
        return
    key.last_used_at = now
    key_flush_uses(key)


def key_flush_uses(key: PartnerKey) -> int:
    """Move the uses counted in Redis to the row; how many were moved."""
    pending_key = _pending_key(key.pk)
    try:
        pending = int(cache.get(pending_key) or 0)
        if pending:
            cache.decr(pending_key, pending)
    except Exception:  # noqa: BLE001
        log.warning("key uses of %s not read from the cache", key.pk, exc_info=True)
        pending = 1
    if pending:
        PartnerKey.objects.filter(pk=key.pk).update(use_count=F("use_count") + pending)
        key.use_count += pending
    return pending
