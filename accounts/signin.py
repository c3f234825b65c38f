"""Sign-in throttling and lockout (django-axes), and unlocking.

Every failed sign-in (the login page, HTTP Basic on the API, Django's admin) is counted
for the account and for the client's address. After ``AXES_FAILURE_LIMIT`` failures of
one account, or from one address, within ``AXES_COOLOFF_TIME``, sign-ins of that account
and from that address are refused without checking the password, until that time has
passed since the last refused try. The login page shows why and for how long (429); the
API answers 429 in the platform's error shape with a ``Retry-After`` header.

An account is counted under its username whether the person typed the username or the
mobile number, so alternating the two gains nothing.
"""

from __future__ import annotations

import math

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, status
from rest_framework.authentication import BasicAuthentication

from accounts.forms import LoginForm


def lockout_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_message() -> str:
    return _("Too many failed sign-ins for this account or from this address. Signing in "
             "is locked for %(minutes)d minutes: try again after that, or ask your bank "
             "to unlock the account.") % {"minutes": lockout_minutes()}


def account_of_credentials(request, credentials) -> str | None:
    """The username the attempt counts against (AXES_USERNAME_CALLABLE): a mobile number
    that belongs to an account counts as that account's username."""
    typed = (credentials or {}).get("username")
    if not typed:
        return typed
    if typed.isdigit() and len(typed) == 11:
        username = (get_user_model().objects.filter(phone=typed)
                    .values_list("username", flat=True).first())
        if username:
            return username
    return typed


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what a refused sign-in gets."""
    message = lockout_message()
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if _is_api(request):
        response = JsonResponse({"message": message, "errors": {}},
                                status=status.HTTP_429_TOO_MANY_REQUESTS)
    else:
        response = render(request, "accounts/login.html", {
            "form": LoginForm(request, initial={"username": (credentials or {}).get(
                "username", request.POST.get("username", ""))}),
            "next": request.POST.get("next", request.GET.get("next", "")),
            "locked_message": message}, status=status.HTTP_429_TOO_MANY_REQUESTS)
    response["Retry-After"] = retry_after
    return response


class SignInLocked(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self):
        super().__init__(lockout_message())
        self.wait = int(settings.AXES_COOLOFF_TIME.total_seconds())


class LockoutBasicAuthentication(BasicAuthentication):
    """HTTP Basic whose failures count toward the sign-in lockout, and which refuses a
    locked account or address before hashing any password."""

    def authenticate_credentials(self, userid, password, request=None):
        http_request = getattr(request, "_request", request)
        if http_request is not None and not AxesProxyHandler.is_allowed(
                http_request, {"username": userid}):
            raise SignInLocked
        return super().authenticate_credentials(userid, password, request=http_request)



class LockoutBasicScheme(OpenApiAuthenticationExtension):
    """The OpenAPI schema names it as plain HTTP Basic."""

    target_class = "accounts.signin.LockoutBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic"}
