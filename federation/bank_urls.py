"""The bank console's traffic page, under /console/traffic/ on a bank's domain."""

from django.urls import path

from federation import search_views, traffic_views

app_name = "console_traffic"
urlpatterns = [
    path("", traffic_views.bank_traffic, name="home"),
    path("searches/", search_views.bank_searches, name="searches"),
]
