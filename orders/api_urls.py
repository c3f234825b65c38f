"""Buying API under /api/v1/: shopper, merchant and bank-staff endpoints."""


shopper_urlpatterns: list = []
merchant_urlpatterns: list = []
console_urlpatterns: list = []
