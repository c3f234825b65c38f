"""Payment pages: the card page and the local stand-in for card authentication."""


app_name = "payments"
urlpatterns: list = []
