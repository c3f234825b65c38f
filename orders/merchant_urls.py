"""Merchant console pages for orders, under /merchant/<merchant_id>/orders/."""

from django.urls import path

from orders import merchant_views as views
from orders import message_views

app_name = "merchant_orders"
urlpatterns = [
    path("", views.order_list, name="list"),
    path("shipping/", views.shipping_rule, name="shipping"),
    path("flash-sales/", views.flash_sales, name="flash-sales"),
    path("<str:number>/", views.order_detail, name="detail"),
    path("<str:number>/ship/", views.order_ship, name="ship"),
    path("<str:number>/messages/", message_views.shop_message, name="message"),
    path("<str:number>/dispute/", message_views.shop_dispute, name="dispute"),
    path("<str:number>/track/", views.order_track, name="track"),
    path("<str:number>/ready/", views.order_ready, name="ready"),
    path("<str:number>/refund/", views.refund_issue, name="refund"),
    path("<str:number>/refunds/<int:refund_id>/", views.refund_decide, name="refund-decide"),
    path("<str:number>/waybill/", views.waybill, name="waybill"),
]
