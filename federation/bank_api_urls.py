"""A bank's own traffic, one endpoint per table, under /api/v1/console/traffic/ on the
bank's domain (that bank's staff)."""

from django.urls import path

from federation.traffic_api import BANK_APIS

urlpatterns = [
    path(f"console/traffic/{key.replace('_', '-')}/", view.as_view(),
         name=f"api-console-traffic-{key.replace('_', '-')}")
    for key, view in BANK_APIS.items()
]
