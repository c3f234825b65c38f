"""Bank console pages for points, under /console/points/ (bank domains only)."""

from django.urls import path

from rewards import console_views as views

app_name = "console_rewards"
urlpatterns = [
    path("", views.desk, name="desk"),
    path("programme/", views.programme, name="programme"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule"),
    path("offers/", views.offers, name="offers"),
    path("offers/new/", views.offer_edit, name="offer-new"),
    path("offers/<int:offer_id>/", views.offer_edit, name="offer"),
]
