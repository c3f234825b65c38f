from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from core.errors import api_error_response, is_api_request
from core.health import platform_health


@never_cache
def healthz(request):
    """Database, Redis and worker status as JSON, on any host; 503 if something is down."""
    report = platform_health()
    report["host"] = "portal" if getattr(request, "bank", None) is None else request.bank.code
    return JsonResponse(report, status=200 if report["ok"] else 503,
                        json_dumps_params={"ensure_ascii": False})


def page_not_found(request, exception=None):
    if is_api_request(request):
        return api_error_response(404, _("Not found."))
    return render(request, "core/404.html", status=404)


def bad_request(request, exception=None):
    """A request Django could not read (a malformed body, a bad Host header)."""
    if is_api_request(request):
        return api_error_response(400, _("The request could not be read."))
    return HttpResponseBadRequest(_("The request could not be read."),
                                  content_type="text/plain; charset=utf-8")


def server_error(request):
    if is_api_request(request):
        return api_error_response(500, _("Something went wrong on our side."))
    return render(request, "core/500.html", status=500)
