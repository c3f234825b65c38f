from django.urls import path  # noqa: F401

app_name = "console_lending"
urlpatterns: list = []
