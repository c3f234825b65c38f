"""Reads on banks, branches and staff, always scoped to the bank that may see them."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from banks.models import Bank, BankEvent, Branch, Domain, StaffMembership


def bank_list_active() -> QuerySet[Bank]:
    return (Bank.objects.filter(is_active=True)
            .prefetch_related(Prefetch("domains", queryset=Domain.objects.order_by(
                "-is_primary", "domain")),
                "branches")
            .order_by("code"))


def bank_primary_domain(bank: Bank) -> str | None:
    domains = list(bank.domains.all())
    for domain in domains:
        if domain.is_primary:
            return domain.domain
    return domains[0].domain if domains else None


def branch_list(*, bank: Bank) -> QuerySet[Branch]:
    return Branch.objects.filter(bank=bank).order_by("code")


def branch_get(*, bank: Bank, branch_id: int) -> Branch:
    """A branch of this bank, or 404 (also when it exists but belongs to another bank)."""
    return get_object_or_404(Branch, bank=bank, pk=branch_id)


def staff_list(*, bank: Bank) -> QuerySet[StaffMembership]:
    return (StaffMembership.objects.filter(bank=bank, is_active=True)
            .select_related("user", "branch").order_by("role", "user__username"))


def membership_for(*, user, bank: Bank | None) -> StaffMembership | None:
    """The active membership of ``user`` in ``bank``; None for anyone else."""
    if bank is None or not getattr(user, "is_authenticated", False):
        return None
    return (StaffMembership.objects.filter(user=user, bank=bank, is_active=True)
            .select_related("bank", "branch").first())


def profile_roles(user) -> list[str]:
    lines = []
    if getattr(user, "is_federation_admin", False):
        lines.append(_("Federation admin"))
    membership = (StaffMembership.objects.filter(user=user, is_active=True)
                  .select_related("bank").first())
    if membership is not None:
        lines.append(f"{membership.bank.name} · {membership.get_role_display()}")
    return lines


def federation_admins():
    return get_user_model().objects.filter(is_federation_admin=True).order_by("username")


def federation_admin_get(*, user_id):
    """A federation admin by id, or 404."""
    if not str(user_id).isdigit():
        raise Http404
    return get_object_or_404(federation_admins(), pk=int(user_id))


def federation_events(*, limit: int = 50):
    """The federation's own audit trail (its admins granted and revoked), newest first."""
    return BankEvent.objects.filter(bank__isnull=True).select_related("actor")[:limit]
