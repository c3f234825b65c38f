"""Bank console pages for orders: search and pickup verification (bank domains only)."""

from django.urls import path

from orders import console_views as views
from orders import message_views

app_name = "console_orders"
urlpatterns = [
    path("", views.order_search, name="search"),
    path("pickup/", views.pickup, name="pickup"),
    path("pickup/<str:number>/", views.picked_up, name="picked-up"),
    path("disputes/", views.disputes, name="disputes"),
    path("<str:number>/", views.order_detail, name="detail"),
    path("<str:number>/messages/", message_views.staff_message, name="message"),
]
