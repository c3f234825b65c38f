"""Permission helpers every console view and API uses.

The rule: staff of bank A asking for anything of bank B get 404, never 403, so that one
bank cannot even learn what exists at another. Within their own bank, a role that is not
enough gets 403. Federation pages answer 404 to anyone but federation admins.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, permissions

from banks.models import StaffMembership, StaffRole
from banks.selectors import membership_for
from core.api import view_handles


def require_bank_staff(request, roles: tuple[str, ...] = ()) -> StaffMembership:
    """The caller's membership in the bank whose domain this is, or Http404.

    ``roles`` limits the action to some roles; a bank admin may do everything.
    """
    bank = getattr(request, "bank", None)
    membership = membership_for(user=request.user, bank=bank)
    if membership is None:
        raise Http404
    if roles and membership.role not in roles and membership.role != StaffRole.BANK_ADMIN:
        raise PermissionDenied
    return membership


def is_federation_admin(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_federation_admin)


def bank_staff_required(*roles: str):
    """Page decorator: sets ``request.membership``; anonymous users go to the login page."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            request.membership = require_bank_staff(request, roles)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def federation_admin_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if getattr(request, "bank", None) is not None or not is_federation_admin(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


class IsBankStaff(permissions.BasePermission):
    """API permission: authenticated staff of the bank whose domain this is.

    Views may set ``staff_roles``; the membership is left on ``request.membership``.
    """

    answers_not_found = True  # to anyone not on the bank's staff (see core.schema)

    def has_permission(self, request, view) -> bool:
        if not view_handles(view, request):
            return True  # the view answers 405 for a method it does not have
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated
        roles = tuple(getattr(view, "staff_roles", ()))
        try:
            request.membership = require_bank_staff(request, roles)
        except Http404:
            raise exceptions.NotFound
        except PermissionDenied:
            return False
        return True


class IsFederationAdmin(permissions.BasePermission):
    answers_not_found = True  # to anyone but federation admins (see core.schema)

    def has_permission(self, request, view) -> bool:
        if not view_handles(view, request):
            return True  # the view answers 405 for a method it does not have
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated
        if getattr(request, "bank", None) is not None or not is_federation_admin(request.user):
            raise exceptions.NotFound
        return True
