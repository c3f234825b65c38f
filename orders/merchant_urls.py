"""Merchant console pages for orders, under /merchant/<merchant_id>/orders/."""


app_name = "merchant_orders"
urlpatterns: list = []
