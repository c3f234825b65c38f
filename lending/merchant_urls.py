"""The merchant console's financing pages, under /merchant/<merchant_id>/financing/."""

from django.urls import path

from lending import pledge_views, views

app_name = "merchant_lending"
urlpatterns = [
    path("", views.merchant_home, name="home"),
    path("consent/", views.merchant_consent, name="consent"),
    path("pledges/", pledge_views.merchant_pledges, name="pledges"),
    path("orders/<str:number>/", views.merchant_order, name="order"),
    path("loans/<int:loan_id>/", views.merchant_loan, name="loan"),
    path("loans/<int:loan_id>/repay/", views.merchant_loan_repay, name="repay"),
]
