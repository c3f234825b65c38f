"""How a partner platform's request is authenticated, allowed and throttled.

``PartnerKeyAuthentication`` reads ``Authorization: Bearer pk_...`` (or ``X-Api-Key``):
``request.auth`` becomes the ``PartnerKey`` and ``request.user`` stays anonymous, so a key
never passes a permission meant for people (staff, shoppers). Only the partner endpoints
list this class; everywhere else a key is no credential at all (401).

Refusals: no key, an unknown, revoked or expired one: 401 with the reason; a key without
the scope an endpoint needs: 403 naming the scope; a suspended or closed partner: 403.
Each key has its own rate (``PARTNER_API_RATE``): 429 with Retry-After beyond it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.throttling import SimpleRateThrottle

from partners.models import PartnerKey, PartnerStatus
from partners.services import KeyRefused, key_authenticate, key_record_use


class PartnerKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY", "")
        if not raw:
            parts = get_authorization_header(request).split()
            if not parts or parts[0].lower() != self.keyword.lower().encode():
                return None
            if len(parts) != 2:
                raise exceptions.AuthenticationFailed(_("Invalid API key."))
            try:
                raw = parts[1].decode()
            except UnicodeDecodeError:
                raise exceptions.AuthenticationFailed(_("Invalid API key."))
        try:
            key = key_authenticate(raw)
        except KeyRefused as exc:
            raise exceptions.AuthenticationFailed(str(exc))
        key_record_use(key)
        return AnonymousUser(), key

    def authenticate_header(self, request):
        return f'{self.keyword} realm="partner"'


class _HasScope(permissions.BasePermission):
    scope = ""

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, PartnerKey):
            raise exceptions.NotAuthenticated(_("Send a partner API key."))
        if key.partner.status != PartnerStatus.ACTIVE:
            raise exceptions.PermissionDenied(
                _("The partner is %(status)s: its keys are refused.")
                % {"status": key.partner.get_status_display()})
        if self.scope not in key.scopes:
            raise exceptions.PermissionDenied(
                _("This API key lacks the scope “%(scope)s”.") % {"scope": self.scope})
        return True


def HasScope(scope: str) -> type[permissions.BasePermission]:  # noqa: N802 - reads as a class
    """The permission class of endpoints that need ``scope``."""
    return type(f"HasScope[{scope}]", (_HasScope,), {"scope": scope})


class PartnerKeyThrottle(SimpleRateThrottle):
    """Requests per key, counted in the cache (Redis) over the rate's window."""

    scope = "partner"

    def get_rate(self):
        return settings.PARTNER_API_RATE

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, PartnerKey):
            return None
        return f"throttle:partner-key:{request.auth.pk}"


class PartnerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "partners.auth.PartnerKeyAuthentication"
    name = "partnerKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "pk_<prefix>_<secret>",
                "description": "A partner platform's API key (also accepted in the "
                               "X-Api-Key header)."}
