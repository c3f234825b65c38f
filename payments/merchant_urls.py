"""Merchant console page for settlements, under /merchant/<merchant_id>/settlements/."""

from django.urls import path

from payments import merchant_views as views

app_name = "merchant_settlement"
urlpatterns = [
    path("", views.settlements, name="list"),
]
