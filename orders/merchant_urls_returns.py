"""Merchant console pages for returns, under /merchant/<merchant_id>/returns/."""

from django.urls import path

from orders import merchant_views_returns as views

app_name = "merchant_returns"
urlpatterns = [
    path("", views.return_list, name="list"),
    path("<int:return_id>/decide/", views.return_decide, name="decide"),
    path("<int:return_id>/receive/", views.return_receive, name="receive"),
    path("<int:return_id>/photos/<int:photo_id>/", views.return_photo, name="photo"),
]
