"""Admission of merchants by a bank: application, review, inspection, decisions,
suspension and reinstatement, and the monitoring flags of the scheduled scan.

Everything here runs in the admitting bank's schema (the dossier is its secret) and moves
the merchant's public status through ``catalog.services.merchant_transition``, writing a
``DossierEvent`` with the acting person in the same transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from admission.models import (
    Dossier,
    DossierDocument,
    DossierEvent,
    EventAction,
    Flag,
    FlagKind,
    Inspection,
    Licence,
    LicenceKind,
    Verdict,
)
from banks.models import Bank, StaffRole
from catalog.models import Merchant, MerchantStatus, Product
from catalog.services import (
    merchant_register,
    merchant_set_featured,
    merchant_transition,
    product_transition,
)
from core import uploads
from core.errors import ApplicationError
from core.validators import (
    mask_id_number,
    validate_cn_id_number,
    validate_cn_mobile,
    validate_uscc,
)
from core.writes import Change, registered_audit

# Who in a bank works on admission (a bank admin may always).
STAFF_ROLES = (StaffRole.ACCOUNT_MANAGER, StaffRole.CREDIT_OFFICER)
REVIEW_INTERVAL_DAYS = 365
EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class LicenceSpec:
    kind: str
    number: str
    expires_on: datetime.date
    document: object | None = None


def _in_bank_schema(bank: Bank) -> None:
    if connection.schema_name != bank.schema_name:
        raise RuntimeError(f"admission work for {bank.code} must run in {bank.schema_name}")


def _collect(errors: dict, field: str, validator, value) -> None:
    try:
        validator(value)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)


@transaction.atomic
def admission_apply(*, bank: Bank, applicant, shop_name: str, kind: str, county: str,
                    uscc: str, legal_rep_name: str, legal_rep_id: str, contact_phone: str,
                    address: str, licences: Sequence[LicenceSpec], township: str = "",
                    intro: str = "") -> Dossier:
    """A person applies for their business to be admitted by ``bank`` as a merchant."""
    _in_bank_schema(bank)
    errors: dict[str, list[str]] = {}
    uscc = (uscc or "").strip().upper()
    _collect(errors, "uscc", validate_uscc, uscc)
    _collect(errors, "legal_rep_id", validate_cn_id_number, legal_rep_id)
    _collect(errors, "contact_phone", validate_cn_mobile, (contact_phone or "").strip())
    if not (legal_rep_name or "").strip():
        errors.setdefault("legal_rep_name", []).append(_("Enter the legal representative."))
    if not (address or "").strip():
        errors.setdefault("address", []).append(_("Enter the business address."))
    today = timezone.localdate()
    if not any(lic.kind == LicenceKind.BUSINESS for lic in licences):
        errors.setdefault("licences", []).append(_("The business licence is required."))
    for lic in licences:
        if lic.kind not in LicenceKind.values or not (lic.number or "").strip():
            errors.setdefault("licences", []).append(_("Each licence needs a kind and number."))
        elif lic.expires_on is None or lic.expires_on <= today:
            errors.setdefault("licences", []).append(
                _("%(kind)s has expired.") % {"kind": LicenceKind(lic.kind).label})
    if Dossier.objects.filter(uscc=uscc).exists():
        errors.setdefault("uscc", []).append(
            _("A business with this code has already applied to this bank."))
    try:
        merchant = merchant_register(bank=bank, owner=applicant, name=shop_name, kind=kind,
                                     county=county, township=township, intro=intro)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault("shop_name" if field == "name" else field, []).extend(messages)
        merchant = None
    if errors:
        raise ValidationError(errors)
    dossier = Dossier.objects.create(
        merchant=merchant, uscc=uscc, legal_rep_name=legal_rep_name.strip(),
        legal_rep_id_masked=mask_id_number(legal_rep_id.strip().upper()),
        contact_phone=contact_phone.strip(), address=address.strip())
    for lic in licences:
        licence = Licence.objects.create(dossier=dossier, kind=lic.kind,
                                         number=lic.number.strip(), expires_on=lic.expires_on)
        if lic.document:
            uploads.attach(licence, "document", lic.document)
    DossierEvent.objects.create(dossier=dossier, actor=applicant, action="apply",
                                to_status=MerchantStatus.APPLIED)
    return dossier


@transaction.atomic
def document_add(*, dossier: Dossier, title: str, file, actor) -> DossierDocument:
    if not (title or "").strip() or not file:
        raise ValidationError({"file": [_("Give the document a title and choose a file.")]})
    document = DossierDocument(dossier=dossier, title=title.strip()[:100])
    uploads.attach(document, "file", file, save=False)
    document.save()
    return document


@transaction.atomic
def licence_set_scan(*, dossier: Dossier, licence_id: int, document, actor) -> Licence:
    """The applicant (or merchant) uploads a licence's scan, the first time or again after
    the file was quarantined."""
    licence = dossier.licences.filter(pk=licence_id).first()
    if licence is None:
        raise ApplicationError(_("No such licence in this file."), code="not_found")
    if not document:
        raise ValidationError({"document": [_("Choose a file.")]})
    uploads.attach(licence, "document", document)
    DossierEvent.objects.create(dossier=dossier, actor=actor, action="licence_scan",
                                reason=str(licence)[:300])
    return licence


def _move(dossier: Dossier, *, action: str, actor, reason: str = "") -> Merchant:
    """The merchant's status through its machine, audited on its dossier."""
    def on_dossier(change: Change) -> None:
        DossierEvent.objects.create(dossier=dossier, actor_id=change.actor_id,
                                    action=change.action, from_status=change.before,
                                    to_status=change.after, reason=change.note)

    merchant = Merchant.objects.get(pk=dossier.merchant_id)
    return merchant_transition(merchant=merchant, action=action, reason=reason, actor=actor,
                               audit=on_dossier)


# --- storefront curation and listing review, audited on the merchant's dossier ------------


def _audit(*, merchant_id: int, actor, action: str, reason: str = "") -> None:
    """An event on the merchant's dossier in this bank's schema (a merchant admitted
    before dossiers existed has none: nothing to write it on)."""
    dossier = Dossier.objects.filter(merchant_id=merchant_id).first()
    if dossier is not None:
        DossierEvent.objects.create(dossier=dossier, actor=actor, action=action,
                                    reason=(reason or "")[:300])


@transaction.atomic
def merchant_feature(*, merchant: Merchant, featured: bool, actor) -> Merchant:
    """Feature the merchant on the bank's storefront (or stop), on its dossier's history."""
    merchant = merchant_set_featured(merchant=merchant, featured=featured)
    _audit(merchant_id=merchant.pk, actor=actor,
           action=EventAction.FEATURE if featured else EventAction.UNFEATURE)
    return merchant


LISTING_ACTIONS = (EventAction.APPROVE_LISTING, EventAction.REJECT_LISTING,
                   EventAction.DELIST)


@transaction.atomic
def listing_decide(*, product: Product, action: str, actor, reason: str = "") -> Product:
    """A staff decision on a product's listing (``catalog.services.product_transition``),
    written with the product and the reason on the merchant's dossier history."""
    if action not in LISTING_ACTIONS:
        raise ApplicationError(_("Unknown action “%(a)s”.") % {"a": action}, field="action")
    dossier = Dossier.objects.filter(merchant_id=product.merchant_id).first()

    def on_dossier(change: Change) -> None:
        """On the merchant's dossier (one admitted before dossiers existed has none: the
        bank's trail then)."""
        name = change.row.name
        note = f"{name}: {change.note}" if change.note else name
        if dossier is None:
            registered_audit(Product)(change)
            return
        DossierEvent.objects.create(dossier=dossier, actor_id=change.actor_id,
                                    action=change.action, reason=note[:300])

    return product_transition(product=product, action=action, reason=reason, actor=actor,
                              audit=on_dossier)


def _business_licence_valid(dossier: Dossier, today: datetime.date) -> bool:
    return dossier.licences.filter(kind=LicenceKind.BUSINESS, expires_on__gt=today).exists()


@transaction.atomic
def review_start(*, dossier: Dossier, actor) -> Merchant:
    return _move(dossier, action="start_review", actor=actor)


@transaction.atomic
def inspection_record(*, dossier: Dossier, inspector, inspected_on: datetime.date,
                      findings: str, verdict: str, photo=None) -> Inspection:
    """Bank staff record an on-site inspection (during review, or monitoring later)."""
    merchant = Merchant.objects.get(pk=dossier.merchant_id)
    if merchant.status not in (MerchantStatus.UNDER_REVIEW, MerchantStatus.APPROVED,
                               MerchantStatus.SUSPENDED):
        raise ApplicationError(_("Take the application into review before inspecting."),
                               code="illegal_transition")
    errors: dict[str, list[str]] = {}
    if inspected_on is None or inspected_on > timezone.localdate():
        errors["inspected_on"] = [_("The inspection date cannot be in the future.")]
    if not (findings or "").strip():
        errors["findings"] = [_("Write down the findings.")]
    if verdict not in Verdict.values:
        errors["verdict"] = [_("Choose a verdict.")]
    if errors:
        raise ValidationError(errors)
    inspection = Inspection.objects.create(dossier=dossier, inspector=inspector,
                                           inspected_on=inspected_on,
                                           findings=findings.strip(), verdict=verdict)
    if photo:
        uploads.attach(inspection, "photo", photo)
    DossierEvent.objects.create(dossier=dossier, actor=inspector, action="inspect",
                                from_status=merchant.status, to_status=merchant.status,
                                reason=f"{verdict}")
    return inspection


@transaction.atomic
def merchant_approve(*, dossier: Dossier, actor) -> Merchant:
    """Approve after a passing on-site inspection, with a valid business licence."""
    today = timezone.localdate()
    latest = dossier.inspections.order_by("-inspected_on", "-id").first()
    if latest is None or latest.verdict == Verdict.FAIL:
        raise ApplicationError(_("Approval needs an on-site inspection that passed."),
                               code="inspection_required")
    if not _business_licence_valid(dossier, today):
        raise ApplicationError(_("The business licence has expired."), code="licence_expired")
    merchant = _move(dossier, action="approve", actor=actor)
    dossier.next_review_due = today + datetime.timedelta(days=REVIEW_INTERVAL_DAYS)
    dossier.save(update_fields=["next_review_due"])
    return merchant


@transaction.atomic
def merchant_reject(*, dossier: Dossier, actor, reason: str) -> Merchant:
    return _move(dossier, action="reject", actor=actor, reason=reason)


@transaction.atomic
def merchant_suspend(*, dossier: Dossier, actor, reason: str) -> Merchant:
    """Suspend an approved merchant: its shop and products disappear from every
    storefront at once (the catalog shows only approved merchants' products)."""
    return _move(dossier, action="suspend", actor=actor, reason=reason)


@transaction.atomic
def merchant_reinstate(*, dossier: Dossier, actor, reason: str = "") -> Merchant:
    today = timezone.localdate()
    if not _business_licence_valid(dossier, today):
        raise ApplicationError(_("Renew the business licence before reinstating."),
                               code="licence_expired")
    merchant = _move(dossier, action="reinstate", actor=actor, reason=reason)
    Flag.objects.filter(dossier=dossier, kind=FlagKind.REVIEW_DUE,
                        resolved_at__isnull=True).update(resolved_at=timezone.now())
    dossier.next_review_due = today + datetime.timedelta(days=REVIEW_INTERVAL_DAYS)
    dossier.save(update_fields=["next_review_due"])
    return merchant


@transaction.atomic
def licence_renew(*, licence: Licence, number: str, expires_on: datetime.date,
                  actor) -> Licence:
    if expires_on is None or expires_on <= timezone.localdate():
        raise ValidationError({"expires_on": [_("The new expiry date must be in the future.")]})
    licence.number = (number or licence.number).strip()
    licence.expires_on = expires_on
    licence.save(update_fields=["number", "expires_on"])
    DossierEvent.objects.create(dossier=licence.dossier, actor=actor, action="renew_licence",
                                reason=f"{licence.kind} {licence.number} → {expires_on}")
    return licence


@transaction.atomic
def flags_scan(*, today: datetime.date | None = None) -> dict[str, int]:
    """Raise and resolve monitoring flags in the current bank's schema. Idempotent."""
    today = today or timezone.localdate()
    trading = (MerchantStatus.APPROVED, MerchantStatus.SUSPENDED)
    merchant_ids = set(Merchant.objects.filter(status__in=trading,
                                               bank__schema_name=connection.schema_name)
                       .values_list("pk", flat=True))
    raised = resolved = 0
    wanted: set[tuple[int, str, str]] = set()
    detail: dict[tuple[int, str, str], str] = {}
    dossiers = Dossier.objects.filter(merchant_id__in=merchant_ids).prefetch_related("licences")
    for dossier in dossiers:
        for lic in dossier.licences.all():
            if lic.expires_on <= today:
                key = (dossier.pk, FlagKind.LICENCE_EXPIRED, f"licence:{lic.pk}")
            elif lic.expires_on <= today + datetime.timedelta(days=EXPIRY_WARNING_DAYS):
                key = (dossier.pk, FlagKind.LICENCE_EXPIRING, f"licence:{lic.pk}")
            else:
                continue
            wanted.add(key)
            detail[key] = f"{lic.get_kind_display()} {lic.number} · {lic.expires_on}"
        if dossier.next_review_due and dossier.next_review_due <= today:
            key = (dossier.pk, FlagKind.REVIEW_DUE, "")
            wanted.add(key)
            detail[key] = str(dossier.next_review_due)
    open_flags = {(f.dossier_id, f.kind, f.subject): f
                  for f in Flag.objects.filter(resolved_at__isnull=True)}
    now = timezone.now()
    for key, flag in open_flags.items():
        if key not in wanted:
            flag.resolved_at = now
            flag.save(update_fields=["resolved_at"])
            resolved += 1
    for key in wanted - set(open_flags):
        dossier_id, kind, subject = key
        Flag.objects.create(dossier_id=dossier_id, kind=kind, subject=subject,
                            detail=detail[key], raised_on=today)
        raised += 1
    return {"raised": raised, "resolved": resolved, "open": len(wanted)}


# The staff decisions on a merchant, by action name (pages and API dispatch through it).
DECISIONS = {
    "start_review": review_start,
    "approve": merchant_approve,
    "reject": merchant_reject,
    "suspend": merchant_suspend,
    "reinstate": merchant_reinstate,
}


@transaction.atomic
def dossier_set_settlement_account(*, dossier: Dossier, actor, account_name: str,
                                   account_number: str) -> Dossier:
    """The merchant's settlement account at this bank, where its payouts go."""
    _in_bank_schema(dossier.merchant.bank)
    account_name = (account_name or "").strip()
    number = "".join((account_number or "").split())
    errors: dict[str, list[str]] = {}
    if not account_name:
        errors["account_name"] = [_("Enter the account holder's name.")]
    if not (number.isdigit() and 12 <= len(number) <= 30):
        errors["account_number"] = [_("Enter the account number (12 to 30 digits).")]
    if errors:
        raise ValidationError(errors)
    dossier.settlement_account_name = account_name[:100]
    dossier.settlement_account_number = number
    dossier.save(update_fields=["settlement_account_name", "settlement_account_number"])
    DossierEvent.objects.create(dossier=dossier, actor=actor, action="settlement_account",
                                reason=f"****{number[-4:]}")
    return dossier
