"""The card page of partners' orders, on a bank's storefront (signed links)."""

from django.urls import path

from partners import pay_views

app_name = "partner_pay"
urlpatterns = [
    path("<str:token>/", pay_views.pay, name="pay"),
    path("<str:token>/authenticate/<int:payment_id>/", pay_views.authenticate,
         name="authenticate"),
]
