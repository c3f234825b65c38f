"""Recalls API under /api/v1/: a bank's staff on its domain, federation admins on the
portal (under /api/v1/federation/)."""

from django.urls import path

from recalls import api

console_urlpatterns = [
    path("console/recalls/", api.ConsoleRecallsApi.as_view(), name="api-console-recalls"),
    path("console/recalls/<int:recall_id>/", api.ConsoleRecallApi.as_view(),
         name="api-console-recall"),
    path("console/recalls/<int:recall_id>/close/", api.ConsoleRecallCloseApi.as_view(),
         name="api-console-recall-close"),
]

federation_urlpatterns = [
    path("recalls/", api.FederationRecallsApi.as_view(), name="api-federation-recalls"),
    path("recalls/<int:recall_id>/close/", api.FederationRecallCloseApi.as_view(),
         name="api-federation-recall-close"),
]
