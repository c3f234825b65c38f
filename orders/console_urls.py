"""Bank console pages for orders: search and pickup verification (bank domains only)."""


app_name = "console_orders"
urlpatterns: list = []
