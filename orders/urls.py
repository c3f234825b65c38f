"""Shopper pages: cart, checkout, orders, share links (on the portal and every bank)."""


app_name = "orders"
urlpatterns: list = []
