"""The buyer's credit pages on a bank's domain, under /credit/."""

from django.urls import path

from lending import views

app_name = "lending"
urlpatterns = [
    path("", views.credit_home, name="home"),
    path("consent/", views.credit_consent, name="consent"),
    path("checkout/<str:number>/", views.checkout_finance, name="checkout"),
    path("loans/", views.loan_list, name="loans"),
    path("loans/<int:loan_id>/", views.loan_detail, name="loan"),
    path("loans/<int:loan_id>/repay/", views.loan_repay, name="repay"),
]
