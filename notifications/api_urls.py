"""The inbox API, under /api/v1/me/ (on the portal and every bank's domain)."""

from django.urls import path

from notifications import api

urlpatterns = [
    path("notifications/", api.NotificationListApi.as_view(), name="api-me-notifications"),
    path("notifications/read-all/", api.NotificationReadAllApi.as_view(),
         name="api-me-notifications-read-all"),
    path("notifications/<int:notification_id>/read/", api.NotificationReadApi.as_view(),
         name="api-me-notification-read"),
    path("notification-settings/", api.NotificationSettingsApi.as_view(),
         name="api-me-notification-settings"),
]
