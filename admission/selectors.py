"""Reads on admission files, in the bank's own schema and scoped to that bank."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from admission.models import Dossier, DossierEvent, Flag, FlagKind
from banks.audit import AuditEntry, filter_times
from banks.models import Bank
from catalog.models import Merchant, MerchantStatus
from catalog.selectors import bank_merchant, merchant_for_member
from core import uploads


def dossier_for_bank(*, bank: Bank, merchant_id: int) -> tuple[Merchant, Dossier]:
    """The merchant (of this bank) and its dossier (in this bank's schema); 404 for
    anything of another bank."""
    merchant = bank_merchant(bank=bank, merchant_id=merchant_id)
    dossier = (Dossier.objects.filter(merchant_id=merchant.pk)
               .prefetch_related("licences", "inspections__inspector", "events__actor",
                                 "documents", "flags").first())
    if dossier is None:
        raise Http404
    return merchant, dossier


def dossier_for_member(*, user, bank: Bank, merchant_id: int) -> tuple[Merchant, Dossier]:
    """The merchant this person runs (on this bank's domain) and its dossier; 404 otherwise."""
    merchant = merchant_for_member(user=user, bank=bank, merchant_id=merchant_id)
    dossier = (Dossier.objects.filter(merchant_id=merchant.pk)
               .prefetch_related("licences", "documents").first())
    if dossier is None:
        raise Http404
    return merchant, dossier


def files_to_upload_again(*, dossier: Dossier) -> list[str]:
    """What of this dossier was quarantined (see core.uploads): shown to staff and merchant."""
    found = [str(lic) for lic in dossier.licences.all() if uploads.is_quarantined(lic, "document")]
    found += [doc.title for doc in dossier.documents.all()
              if uploads.is_quarantined(doc, "file")]
    found += [str(i) for i in dossier.inspections.all() if uploads.is_quarantined(i, "photo")]
    return found


QUEUE_TABS = {
    "queue": (MerchantStatus.APPLIED, MerchantStatus.UNDER_REVIEW),
    "approved": (MerchantStatus.APPROVED,),
    "suspended": (MerchantStatus.SUSPENDED,),
    "rejected": (MerchantStatus.REJECTED,),
}


def admission_queue(*, bank: Bank, tab: str) -> QuerySet[Merchant]:
    statuses = QUEUE_TABS.get(tab, QUEUE_TABS["queue"])
    return (Merchant.objects.filter(bank=bank, status__in=statuses)
            .order_by("status", "created_at"))


def dossier_file(*, dossier: Dossier, kind: str, item_id: int):
    """A stored file of this dossier, or 404."""
    sources = {
        "document": (dossier.documents, "file"),
        "licence": (dossier.licences, "document"),
        "inspection": (dossier.inspections, "photo"),
    }
    if kind not in sources:
        raise Http404
    manager, attr = sources[kind]
    item = manager.filter(pk=item_id).first()
    field = getattr(item, attr, None) if item is not None else None
    if not field:
        raise Http404
    return field


def open_flags() -> QuerySet[Flag]:
    return Flag.objects.filter(resolved_at__isnull=True).select_related("dossier")


def flags_by_merchant() -> dict[int, list[Flag]]:
    out: dict[int, list[Flag]] = {}
    for flag in open_flags():
        out.setdefault(flag.dossier.merchant_id, []).append(flag)
    return out


def settlement_accounts(*, merchant_ids) -> dict[int, tuple[str, str]]:
    """(account name, account number) on file per merchant, for merchants that have one.
    Reads the current schema: call it inside the bank's schema."""
    return {d["merchant_id"]: (d["settlement_account_name"], d["settlement_account_number"])
            for d in Dossier.objects.filter(merchant_id__in=list(merchant_ids))
            .exclude(settlement_account_number="")
            .values("merchant_id", "settlement_account_name", "settlement_account_number")}


def dossier_of_merchant(*, merchant_id: int) -> Dossier | None:
    """The merchant's dossier in the current (bank's) schema, if it has one."""
    return Dossier.objects.filter(merchant_id=merchant_id).first()


def compliance_counts(*, bank: Bank, today) -> dict[str, int]:
    """For the federation's compliance overview, in the current (this bank's) schema:
    admitted merchants whose re-review date has passed, and open expired-licence flags."""
    admitted = Merchant.objects.filter(bank=bank, status=MerchantStatus.APPROVED)
    overdue = Dossier.objects.filter(merchant_id__in=admitted.values("pk"),
                                     next_review_due__lt=today).count()
    expired = (open_flags().filter(kind=FlagKind.LICENCE_EXPIRED)
               .values("dossier_id").distinct().count())
    return {"overdue_reviews": overdue, "expired_licences": expired}


def audit_entries(query) -> list:
    """Admission decisions for the bank's audit page (``banks.audit``): applications
    reviewed, inspections, approvals, suspensions, listings decided, newest first."""
    rows = DossierEvent.objects.select_related("dossier__merchant")
    if query.actor_id is not None:
        rows = rows.filter(actor_id=query.actor_id)
    return [AuditEntry(at=e.created_at, area="admission", actor_id=e.actor_id,
                       action=str(e.get_action_display()), target=e.dossier.merchant.name,
                       note=e.reason)
            for e in filter_times(rows, query, "created_at")]
