"""Merchants' shops: registering, the profile, curation, and the admission state machine
(declared as ``Merchant.STATES``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from banks.services import register_bank_audit
from catalog.models import Merchant, MerchantKind, MerchantMember, MerchantRole
from catalog.services.changes import products_touch
from core.errors import ApplicationError
from core.writes import AuditWriter, lock, transition

# Declared on the model: action -> (from statuses, to status).
MERCHANT_TRANSITIONS = Merchant.STATES.table
REASON_REQUIRED = {"reject", "suspend"}


def merchant_allowed_actions(merchant: Merchant) -> list[str]:
    return [a for a, (sources, _to) in MERCHANT_TRANSITIONS.items()
            if merchant.status in sources]


# On the bank's trail (admission writes it on the merchant's dossier instead).
register_bank_audit(Merchant, action="merchant_{action}")


@transaction.atomic
def merchant_transition(*, merchant: Merchant, action: str, reason: str = "", actor=None,
                        audit: AuditWriter | None = None) -> Merchant:
    """Move a merchant through its admission state machine, audited by ``audit`` (the
    bank's trail when not given)."""
    if action not in MERCHANT_TRANSITIONS:
        raise ApplicationError(_("Unknown action “%(a)s”.") % {"a": action}, field="action")
    locked = lock(merchant)
    reason = (reason or "").strip()
    if action in REASON_REQUIRED and not reason and locked.STATES.can(locked.status, action):
        raise ApplicationError(_("Give a reason."), field="reason")
    locked.status_reason = reason
    locked.status_changed_at = timezone.now()
    transition(locked, action, actor=actor, note=reason, audit=audit,
               save_fields=["status_reason", "status_changed_at"], message=_(
                   "A merchant that is “%(status)s” cannot be %(action)s.")
               % {"status": locked.get_status_display(), "action": _action_label(action)})
    products_touch(merchant_ids=[locked.pk])  # its products appear or go in the feeds
    merchant.refresh_from_db(fields=["status", "status_reason", "status_changed_at"])
    return locked


def _action_label(action: str) -> str:
    return {
        "start_review": _("taken into review"), "approve": _("approved"),
        "reject": _("rejected"), "suspend": _("suspended"), "reinstate": _("reinstated"),
        "reapply": _("re-submitted"),
    }.get(action, action)


@transaction.atomic
def merchant_register(*, bank: Bank, owner, name: str, kind: str, county: str,
                      township: str = "", intro: str = "") -> Merchant:
    """A new merchant applies to ``bank``; ``owner`` becomes its owner member."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Enter the shop's name.")]
    elif Merchant.objects.filter(bank=bank, name=name).exists():
        errors["name"] = [_("A shop of this name already exists at this bank.")]
    if kind not in MerchantKind.values:
        errors["kind"] = [_("Choose the kind of business.")]
    if not (county or "").strip():
        errors["county"] = [_("Enter the county.")]
    if errors:
        raise ValidationError(errors)
    merchant = Merchant.objects.create(bank=bank, name=name, kind=kind, county=county.strip(),
                                       township=(township or "").strip(),
                                       intro=(intro or "").strip())
    MerchantMember.objects.create(merchant=merchant, user=owner, role=MerchantRole.OWNER)
    return merchant


@transaction.atomic
def merchant_update_profile(*, merchant: Merchant, intro: str, township: str = "") -> Merchant:
    merchant.intro = (intro or "").strip()
    merchant.township = (township or "").strip()
    merchant.save(update_fields=["intro", "township"])
    return merchant


@transaction.atomic
def merchant_set_featured(*, merchant: Merchant, featured: bool) -> Merchant:
    merchant.is_featured = featured
    merchant.save(update_fields=["is_featured"])
    return merchant
