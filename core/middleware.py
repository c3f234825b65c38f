"""Request hygiene shared by every page and endpoint."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
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


class LimitUrlLengthMiddleware:
    """A URL (path and query) longer than ``MAX_URL_BYTES`` gets the platform's own 414
    (a page, or the API's error shape) instead of reaching a view. The web server lets
    request lines up to 8190 bytes through (platform/gunicorn.conf.py), so the person
    sees our message, not the server's raw one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = len(request.META.get("PATH_INFO", "").encode("utf-8", "replace")) + len(
            request.META.get("QUERY_STRING", ""))
        if length > settings.MAX_URL_BYTES:
            message = _("The address is too long (at most %(n)d characters). If you were "
                        "searching, use fewer words.") % {"n": settings.MAX_URL_BYTES}
            if request.path.startswith("/api/"):
                return JsonResponse({"message": message, "errors": {}}, status=414)
            return render(request, "core/414.html", {"message": message}, status=414)
        return self.get_response(request)
