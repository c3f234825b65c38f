"""Payment pages: the card page and the local stand-in for card authentication."""

from django.urls import path

from payments import views

app_name = "payments"
urlpatterns = [
    path("authenticate/<int:payment_id>/", views.authenticate, name="authenticate"),
    path("<str:number>/", views.pay, name="pay"),
    path("<str:number>/cancel/", views.cancel, name="cancel"),
]
