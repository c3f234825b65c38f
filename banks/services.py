"""Writes on banks: onboarding a member bank, its branches and staff."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, schema_exists

from accounts.selectors import user_by_login
from accounts.services import user_set_segment
from banks.models import (
    BANK_CODE_RE,
    Bank,
    BankEvent,
    Branch,
    Domain,
    StaffMembership,
    StaffRole,
)
from banks.schema_template import template_ensure
from banks.signals import bank_schema_ready
from core.writes import Change, register_audit

RESERVED_CODES = {"www", "portal", "api", "admin", "static", "media", "public", "federation"}
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
BRANCH_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")


@dataclass(frozen=True)
class BranchSpec:
    code: str
    name: str
    county: str
    address: str
    phone: str = ""
    opening_hours: str = ""
    is_pickup_point: bool = True


@dataclass
class OnboardResult:
    bank: Bank
    created: bool
    added_domains: list[str] = field(default_factory=list)
    added_branches: list[str] = field(default_factory=list)
    first_admin: object = None  # the account made the bank's admin, if one was named


def schema_name_for(code: str) -> str:
    return "bank_" + code.replace("-", "_")


def default_domain_for(code: str) -> str:
    return f"{code}.{settings.BANK_DOMAIN_SUFFIX}"


def _validate(*, code: str, name: str, brand_color: str, domains: list[str],
              branches: Sequence[BranchSpec]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    if not re.match(BANK_CODE_RE, code):
        add("code", _("A bank code is 2-30 lowercase letters, digits or hyphens, "
                      "starting with a letter."))
    elif code in RESERVED_CODES:
        add("code", _("This code is reserved."))
    if not name.strip():
        add("name", _("Enter the bank's name."))
    elif len(name) > 100:
        add("name", _("The name is longer than 100 characters."))
    if not re.match(r"^#[0-9a-fA-F]{6}$", brand_color):
        add("brand_color", _("Use a colour like #1f7a4d."))

    if len(set(domains)) != len(domains):
        add("domains", _("A domain is listed twice."))
    portal = {d.lower() for d in settings.PORTAL_DOMAINS}
    for domain in domains:
        if not HOSTNAME_RE.match(domain):
            add("domains", _("“%(domain)s” is not a valid host name.") % {"domain": domain})
        elif domain in portal:
            add("domains", _("“%(domain)s” is the federation portal's domain.")
                % {"domain": domain})

    seen: set[str] = set()
    for index, branch in enumerate(branches, start=1):
        label = _("Branch %(n)s") % {"n": index}
        if not BRANCH_CODE_RE.match(branch.code or ""):
            add("branches", _("%(label)s: the code must be lowercase letters, digits or "
                              "hyphens.") % {"label": label})
        elif branch.code in seen:
            add("branches", _("%(label)s: the code “%(code)s” is used twice.")
                % {"label": label, "code": branch.code})
        seen.add(branch.code)
        for attr, text in (("name", _("name")), ("county", _("county")),
                           ("address", _("address"))):
            if not (getattr(branch, attr) or "").strip():
                add("branches", _("%(label)s: the %(field)s is missing.")
                    % {"label": label, "field": text})
    return errors


@transaction.atomic
def bank_onboard(*, code: str, name: str, short_name: str = "", region: str = "",
                 slogan: str = "", brand_color: str = "#1f7a4d",
                 domains: Sequence[str] = (), branches: Sequence[BranchSpec] = (),
                 first_admin: str = "", acting_user=None) -> OnboardResult:
    """Create a member bank with its schema, domains and branches, or complete it.

    Safe to re-run: for an existing bank with the same code *and* name the call adds the
    domains and branches (by code) that are missing, makes sure the schema exists and
    returns ``created=False``. A code or name or domain that belongs to another bank is
    refused. Everything happens in one transaction (PostgreSQL DDL is transactional), so
    a refusal or failure leaves no bank, schema, domain or branch behind.
    """
    code = (code or "").strip().lower()
    name = (name or "").strip()
    domains = [d.strip().lower() for d in domains if d and d.strip()] or [
        default_domain_for(code)]
    errors = _validate(code=code, name=name, brand_color=brand_color, domains=domains,
                       branches=branches)
    admin_user = None
    if (first_admin or "").strip():
        try:
            admin_user = person_by_login(first_admin, field="first_admin")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    existing = Bank.objects.select_for_update().filter(code=code).first()
    if existing is not None and existing.name != name:
        raise ValidationError({"code": [
            _("The code “%(code)s” already belongs to %(bank)s.")
            % {"code": code, "bank": existing.name}]})
    same_name = Bank.objects.filter(name=name).exclude(code=code).first()
    if same_name is not None:
        raise ValidationError({"name": [
            _("A bank named “%(name)s” already exists (code %(code)s).")
            % {"name": name, "code": same_name.code}]})
    taken = (Domain.objects.filter(domain__in=domains)
             .exclude(tenant__code=code).select_related("tenant"))
    if taken:
        raise ValidationError({"domains": [
            _("“%(domain)s” already belongs to %(bank)s.")
            % {"domain": d.domain, "bank": d.tenant.name} for d in taken]})

    created = existing is None
    created_schema = created
    if created or not schema_exists(existing.schema_name):
        template_ensure()  # the schema is cloned from it
    if created:
        bank = Bank(code=code, name=name, short_name=short_name, region=region,
                    slogan=slogan, brand_color=brand_color,
                    schema_name=schema_name_for(code))
        bank.full_clean()
        bank.save(verbosity=0)  # creates and migrates the schema
    else:
        bank = existing
        if not schema_exists(bank.schema_name):
            bank.create_schema(check_if_exists=True, verbosity=0)
            created_schema = True

    result = OnboardResult(bank=bank, created=created)
    has_primary = bank.domains.filter(is_primary=True).exists()
    for domain in domains:
        _obj, made = Domain.objects.get_or_create(
            domain=domain, tenant=bank, defaults={"is_primary": not has_primary})
        if made:
            has_primary = True
            result.added_domains.append(domain)

    existing_codes = set(bank.branches.values_list("code", flat=True))
    for spec in branches:
        if spec.code in existing_codes:
            continue
        Branch.objects.create(bank=bank, code=spec.code, name=spec.name.strip(),
                              county=spec.county.strip(), address=spec.address.strip(),
                              phone=spec.phone.strip(),
                              opening_hours=spec.opening_hours.strip(),
                              is_pickup_point=spec.is_pickup_point)
        result.added_branches.append(spec.code)

    if created_schema:
        with schema_context(bank.schema_name):
            bank_schema_ready.send(sender=Bank, bank=bank)
    if admin_user is not None:
        try:
            staff_grant(bank=bank, user=admin_user, role=StaffRole.BANK_ADMIN,
                        acting_user=acting_user)
        except ValidationError as exc:  # staff of another bank: nothing is created
            raise ValidationError({"first_admin": exc.message_dict.get("user", exc.messages)})
        result.first_admin = admin_user
    if created or result.added_domains or result.added_branches:
        BankEvent.objects.create(
            bank=bank, actor=acting_user if getattr(acting_user, "pk", None) else None,
            action="onboarded" if created else "completed",
            detail={"domains": result.added_domains, "branches": result.added_branches})
    return result


def _require_bank_admin(*, bank: Bank, actor) -> None:
    """Staff changes are a bank admin's, a federation admin's (onboarding names a bank's
    first admin) or the system's (``actor`` None: the demo loader, the ``grant_role``
    command). Anyone else is refused, whatever page or API they came through."""
    if actor is None or getattr(actor, "is_federation_admin", False):
        return  # the system, or the federation (it names a new bank's first admin)
    if not StaffMembership.objects.filter(user=actor, bank=bank, is_active=True,
                                          role=StaffRole.BANK_ADMIN).exists():
        raise PermissionDenied(_("Only a bank admin of this bank may change its staff."))


def _check_role_and_branch(*, bank: Bank, role: str, branch: Branch | None) -> None:
    if role not in StaffRole.values:
        raise ValidationError({"role": [_("Choose a role.")]})
    if branch is not None and branch.bank_id != bank.pk:
        raise ValidationError({"branch": [_("The branch belongs to another bank.")]})


def _keep_an_admin(*, bank: Bank, leaving: StaffMembership) -> None:
    """Refuse to demote or revoke the bank's last active admin (the bank could no longer
    manage its staff from the browser). The admins' rows are locked, so two admins
    removing each other at the same moment cannot both succeed."""
    admins = list(StaffMembership.objects.select_for_update()
                  .filter(bank=bank, is_active=True, role=StaffRole.BANK_ADMIN)
                  .values_list("pk", flat=True))
    if admins == [leaving.pk]:
        raise ValidationError({"role": [_("This is the bank's last admin: grant another "
                                          "admin first.")]})


def _membership_state(membership: StaffMembership) -> dict:
    return {"role": membership.role, "branch": membership.branch_id,
            "is_active": membership.is_active, "bank": membership.bank_id}


def _audit_staff(*, bank: Bank, actor, action: str, membership: StaffMembership,
                 before: dict) -> None:
    after = _membership_state(membership)
    bank_audit(bank=bank, actor=actor, action=action, target=membership,
               changes={k: (before.get(k), v) for k, v in after.items() if before.get(k) != v},
               note=membership.user.username)


@transaction.atomic
def staff_grant(*, bank: Bank, user, role: str, branch: Branch | None = None,
                acting_user=None) -> StaffMembership:
    """Make ``user`` staff of ``bank`` in ``role`` (at ``branch``, for staff who work at
    one branch). A person works for one bank only: staff of another bank are refused;
    someone whose role at another bank was revoked may join this one."""
    _require_bank_admin(bank=bank, actor=acting_user)
    _check_role_and_branch(bank=bank, role=role, branch=branch)
    membership = StaffMembership.objects.select_for_update().filter(user=user).first()
    if membership is not None and membership.bank_id != bank.pk and membership.is_active:
        raise ValidationError({"user": [_("This person is already staff of another bank.")]})
    before = _membership_state(membership) if membership is not None else {}
    if membership is None:
        membership = StaffMembership(user=user, bank=bank)
    if (membership.pk and membership.bank_id == bank.pk and membership.is_active
            and membership.role == StaffRole.BANK_ADMIN and role != StaffRole.BANK_ADMIN):
        _keep_an_admin(bank=bank, leaving=membership)
    membership.bank = bank
    membership.role = role
    membership.branch = branch
    membership.is_active = True
    membership.full_clean()
    membership.save()
    _audit_staff(bank=bank, actor=acting_user, action="staff_granted", membership=membership,
                 before=before)
    return membership


def person_by_login(identifier: str, *, field: str = "person"):
    """The account with this mobile number or username, or a ValidationError on ``field``
    that says the person signs up first."""
    person = user_by_login(identifier)
    if person is None:
        raise ValidationError({field: [_("No account has this mobile number or username; "
                                         "the person signs up first.")]})
    return person


@transaction.atomic
def staff_grant_by_login(*, bank: Bank, person: str, role: str, branch: Branch | None = None,
                         acting_user) -> StaffMembership:
    """``staff_grant`` to the person found by mobile number or username."""
    user = person_by_login(person)
    try:
        return staff_grant(bank=bank, user=user, role=role, branch=branch,
                           acting_user=acting_user)
    except ValidationError as exc:
        raise ValidationError({("person" if key == "user" else key): messages
                               for key, messages in exc.message_dict.items()}) from None


@transaction.atomic
def staff_change(*, bank: Bank, membership_id, role: str, branch: Branch | None = None,
                 acting_user) -> StaffMembership:
    """Change the role or branch of one of the bank's staff."""
    _require_bank_admin(bank=bank, actor=acting_user)
    membership = _staff_locked(bank=bank, membership_id=membership_id)
    _check_role_and_branch(bank=bank, role=role, branch=branch)
    if membership.role == StaffRole.BANK_ADMIN and role != StaffRole.BANK_ADMIN:
        _keep_an_admin(bank=bank, leaving=membership)
    before = _membership_state(membership)
    membership.role = role
    membership.branch = branch
    membership.save(update_fields=["role", "branch"])
    _audit_staff(bank=bank, actor=acting_user, action="staff_changed", membership=membership,
                 before=before)
    return membership


@transaction.atomic
def staff_revoke(*, bank: Bank, membership_id, acting_user) -> StaffMembership:
    """End a person's work for the bank: the console and desk close to them at once; the
    row stays (inactive) for the audit trail."""
    _require_bank_admin(bank=bank, actor=acting_user)
    membership = _staff_locked(bank=bank, membership_id=membership_id)
    if membership.role == StaffRole.BANK_ADMIN:
        _keep_an_admin(bank=bank, leaving=membership)
    before = _membership_state(membership)
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    _audit_staff(bank=bank, actor=acting_user, action="staff_revoked", membership=membership,
                 before=before)
    return membership


def _staff_locked(*, bank: Bank, membership_id) -> StaffMembership:
    """The bank's active staff row, locked; another bank's (or a revoked one) is 404."""
    try:
        pk = int(membership_id)
    except (TypeError, ValueError):
        raise Http404 from None
    membership = (StaffMembership.objects.select_for_update().select_related("user")
                  .filter(bank=bank, pk=pk, is_active=True).first())
    if membership is None:
        raise Http404
    return membership


@transaction.atomic
def customer_set_segment(*, bank: Bank, phone: str, segment: str, acting_user):
    """A member of the bank's staff records a customer's group (at the desk, in the
    console), found by mobile number; audited on the bank's trail."""
    if not StaffMembership.objects.filter(user=acting_user, bank=bank,
                                          is_active=True).exists():
        raise PermissionDenied
    customer = customer_by_phone(phone)
    before = customer.segment
    user_set_segment(user=customer, segment=segment)
    if before != segment:
        bank_audit(bank=bank, actor=acting_user, action="customer_group_set", target=customer,
                   changes={"segment": (before, segment)}, note=customer.shown_name)
    return customer


def customer_by_phone(phone: str):
    """The customer with this mobile number, or a ValidationError on ``phone``."""
    digits = "".join(ch for ch in str(phone or "") if ch.isdigit())
    customer = get_user_model().objects.filter(phone=digits).first() if len(digits) == 11 \
        else None
    if customer is None:
        raise ValidationError({"phone": [_("No customer has this mobile number.")]})
    return customer


def _require_federation_admin(actor) -> None:
    if actor is not None and not getattr(actor, "is_federation_admin", False):
        raise PermissionDenied(_("Only a federation admin may change the federation's "
                                 "admins."))


@transaction.atomic
def federation_admin_grant(*, user, acting_user=None):
    """Make ``user`` a federation admin (the portal's console and admin site)."""
    _require_federation_admin(acting_user)
    user = type(user).objects.select_for_update().get(pk=user.pk)
    if not user.is_federation_admin:
        user.is_federation_admin = True
        user.is_staff = True
        user.save(update_fields=["is_federation_admin", "is_staff"])
        federation_audit(actor=acting_user, action="federation_admin_granted", target=user,
                         note=user.username)
    return user


@transaction.atomic
def federation_admin_grant_by_login(*, person: str, acting_user):
    """``federation_admin_grant`` to the person found by mobile number or username."""
    return federation_admin_grant(user=person_by_login(person), acting_user=acting_user)


@transaction.atomic
def federation_admin_revoke(*, user, acting_user):
    """Take the federation admin role from ``user``; the last one cannot be removed."""
    _require_federation_admin(acting_user)
    model = type(user)
    admins = list(model.objects.select_for_update().filter(is_federation_admin=True)
                  .values_list("pk", flat=True))
    if user.pk not in admins:
        raise Http404
    if admins == [user.pk]:
        raise ValidationError({"user": [_("This is the federation's last admin: grant "
                                          "another admin first.")]})
    model.objects.filter(pk=user.pk).update(is_federation_admin=False, is_staff=False)
    user.is_federation_admin = False
    user.is_staff = False
    federation_audit(actor=acting_user, action="federation_admin_revoked", target=user,
                     note=user.username)
    return user


@transaction.atomic
def bank_set_listing_policy(*, bank: Bank, requires_review: bool, acting_user,
                            requires_passing_lab_report: bool | None = None) -> Bank:
    """Whether a merchant's product goes live only after the bank's staff review it, and
    (when given) whether it sells only while its lot on sale has a passing lab report."""
    bank.requires_listing_review = bool(requires_review)
    fields = ["requires_listing_review"]
    if requires_passing_lab_report is not None:
        bank.requires_passing_lab_report = bool(requires_passing_lab_report)
        fields.append("requires_passing_lab_report")
    bank.save(update_fields=fields)
    BankEvent.objects.create(bank=bank, actor=acting_user, action="listing_policy",
                             detail={"requires_listing_review": bank.requires_listing_review,
                                     "requires_passing_lab_report":
                                         bank.requires_passing_lab_report})
    return bank


def bank_audit(*, bank: Bank | None, actor, action: str, target=None,
               changes: dict | None = None, note: str = "") -> BankEvent:
    """Write one audit event of a bank: who (``actor``, None for the system) did what
    (``action``) to which row (``target``: a model instance) and what changed
    (``changes``: field -> [before, after]). Settings of a bank's programmes that its
    staff change (points rules, mall offers) are audited here, in the public schema, so
    that the federation can read every bank's trail in one place."""
    detail: dict = {}
    if target is not None:
        detail["object"] = f"{target._meta.label_lower}:{target.pk}"
    if changes:
        detail["changes"] = {name: [_plain(a), _plain(b)] for name, (a, b) in changes.items()}
    if note:
        detail["note"] = note[:300]
    return BankEvent.objects.create(
        bank=bank, actor=actor if getattr(actor, "pk", None) else None, action=action[:40],
        detail=detail)


def register_bank_audit(model, *, action: str | Mapping[str, str],
                        bank: Callable[[Any], Bank | None] = lambda row: row.bank) -> None:
    """Every ``core.writes.transition`` of ``model`` on its bank's trail: a ``BankEvent``
    with the row as object, its status before and after (and the change's details as more
    changes), and the note. ``action``: the event's action for each transition (a mapping),
    or a format of ``{action}`` and ``{after}`` ("warehouse_{action}"). ``bank``: the row's
    bank, when the transition does not give it (None: the federation's trail)."""
    def write(change: Change) -> None:
        name = (action[change.action] if isinstance(action, Mapping)
                else action.format(action=change.action, after=change.after))
        bank_audit(bank=change.bank if change.bank is not None else bank(change.row),
                   actor=change.actor, action=name, target=change.row,
                   changes={**change.detail, "status": [change.before, change.after]},
                   note=change.note)

    register_audit(model, write)


def federation_audit(*, actor, action: str, target=None, changes: dict | None = None,
                     note: str = "") -> BankEvent:
    """An audit event of the federation itself (its admins, not any one bank's): a
    ``BankEvent`` without a bank, read by the federation's audit page."""
    return bank_audit(bank=None, actor=actor, action=action, target=target, changes=changes,
                      note=note)


def changed_fields(row, values: dict) -> dict:
    """field -> [before, after] for each of ``values`` that differs from ``row``'s."""
    return {name: (getattr(row, name, None), value) for name, value in values.items()
            if getattr(row, name, None) != value}


def _plain(value):
    """A JSON-able form of a field value (dates, decimals and rows as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(getattr(value, "pk", value))
