"""Request hygiene shared by every page and endpoint."""

from __future__ import annotations

from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _

from core.errors import api_error_response, is_api_request


class RejectNulMiddleware:
    """A NUL character in a query string or form field is never meant: PostgreSQL refuses
    it in a text parameter, which would surface as a 500. Answer 400 before any view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.META.get("QUERY_STRING", "") or "%00" in request.META.get(
                "QUERY_STRING", "") or self._form_has_nul(request):
            message = _("The request contains an invalid character.")
            if is_api_request(request):
                return api_error_response(400, message)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _form_has_nul(request) -> bool:
        if request.method != "POST" or request.content_type not in (
                "application/x-www-form-urlencoded", "multipart/form-data"):
            return False
        return any("\x00" in value for values in request.POST.lists() for value in values[1])
