"""Financing API: buyers' (every bank host), merchants' and credit officers' endpoints."""

shopper_urlpatterns: list = []
merchant_urlpatterns: list = []
console_urlpatterns: list = []
