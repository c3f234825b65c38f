"""Writes on banks: onboarding a member bank, its branches and staff."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context, schema_exists

from banks.models import BANK_CODE_RE, Bank, BankEvent, Branch, Domain, StaffMembership
from banks.signals import bank_schema_ready

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
                 acting_user=None) -> OnboardResult:
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
    if created or result.added_domains or result.added_branches:
        BankEvent.objects.create(
            bank=bank, actor=acting_user if getattr(acting_user, "pk", None) else None,
            action="onboarded" if created else "completed",
            detail={"domains": result.added_domains, "branches": result.added_branches})
    return result


@transaction.atomic
def staff_grant(*, bank: Bank, user, role: str, branch: Branch | None = None,
                acting_user=None) -> StaffMembership:
    """Make ``user`` staff of ``bank`` in ``role``. A person works for one bank only."""
    if branch is not None and branch.bank_id != bank.pk:
        raise ValidationError({"branch": [_("The branch belongs to another bank.")]})
    membership = StaffMembership.objects.select_for_update().filter(user=user).first()
    if membership is not None and membership.bank_id != bank.pk:
        raise ValidationError({"user": [_("This person is already staff of another bank.")]})
    if membership is None:
        membership = StaffMembership(user=user, bank=bank)
    membership.role = role
    membership.branch = branch
    membership.is_active = True
    membership.full_clean()
    membership.save()
    BankEvent.objects.create(bank=bank, actor=acting_user, action="staff_granted",
                             detail={"user": user.username, "role": role})
    return membership


@transaction.atomic
def federation_admin_grant(*, user):
    """Make ``user`` a federation admin (the portal's console and admin site)."""
    user.is_federation_admin = True
    user.is_staff = True
    user.save(update_fields=["is_federation_admin", "is_staff"])
    return user


@transaction.atomic
def bank_set_listing_policy(*, bank: Bank, requires_review: bool, acting_user) -> Bank:
    """Whether a merchant's product goes live only after the bank's staff review it."""
    bank.requires_listing_review = bool(requires_review)
    bank.save(update_fields=["requires_listing_review"])
    BankEvent.objects.create(bank=bank, actor=acting_user, action="listing_policy",
                             detail={"requires_listing_review": bank.requires_listing_review})
    return bank


def bank_audit(*, bank: Bank, actor, action: str, target=None, changes: dict | None = None,
               note: str = "") -> BankEvent:
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
