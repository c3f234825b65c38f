"""The inbox pages (on the portal and every bank's domain)."""

from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read-all/", views.read_all, name="read-all"),
    path("settings/", views.preferences, name="settings"),
    path("<int:notification_id>/", views.open_notification, name="open"),
]
