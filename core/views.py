from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from core.health import platform_health


@never_cache
def healthz(request):
    """Database, Redis and worker status as JSON, on any host; 503 if something is down."""
    report = platform_health()
    report["host"] = "portal" if getattr(request, "bank", None) is None else request.bank.code
    return JsonResponse(report, status=200 if report["ok"] else 503,
                        json_dumps_params={"ensure_ascii": False})


def page_not_found(request, exception=None):
    return render(request, "core/404.html", status=404)


def server_error(request):
    return render(request, "core/500.html", status=500)
