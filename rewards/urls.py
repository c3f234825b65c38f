"""The shopper's points pages on a bank's domain, under /points/."""

from django.urls import path

from rewards import views

app_name = "rewards"
urlpatterns = [
    path("", views.home, name="home"),
    path("mall/", views.mall, name="mall"),
    path("mall/<int:offer_id>/", views.offer, name="offer"),
    path("redemptions/", views.redemptions, name="redemptions"),
    path("redemptions/<int:redemption_id>/", views.redemption, name="redemption"),
    path("redemptions/<int:redemption_id>/pay/", views.redemption_pay, name="redemption-pay"),
    path("redemptions/<int:redemption_id>/cancel/", views.redemption_cancel,
         name="redemption-cancel"),
    path("checkout/<str:number>/", views.checkout_points, name="checkout"),
]
