from django.urls import path  # noqa: F401

app_name = "merchant_lending"
urlpatterns: list = []
