"""Payments API under /api/v1/: paying a checkout and the gateway's webhook."""


urlpatterns: list = []
