"""The public verification page of a warehouse receipt and its QR code (every host)."""

from django.urls import path

from warehouses import views

urlpatterns = [
    path("verify/<uuid:token>/", views.verify, name="warehouse-receipt-verify"),
    path("verify/<uuid:token>/qr.<str:fmt>", views.verify_qr, name="warehouse-receipt-qr"),
]
