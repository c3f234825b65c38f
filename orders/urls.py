"""Shopper pages: cart, checkout, orders, share links (on the portal and every bank)."""

from django.urls import path

from orders import message_views, share_views, views

app_name = "orders"
urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/update/", views.cart_update, name="cart-update"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<str:number>/", views.order_detail, name="order"),
    path("orders/<str:number>/confirm/", views.order_confirm, name="order-confirm"),
    path("orders/<str:number>/refund/", views.order_refund, name="order-refund"),
    path("orders/<str:number>/messages/", message_views.buyer_message, name="order-message"),
    path("orders/<str:number>/dispute/", message_views.buyer_dispute, name="order-dispute"),
    path("checkouts/<str:number>/", views.checkout_detail, name="checkout-detail"),
    path("share/", views.share, name="share"),
    path("share/mine/", share_views.my_shares, name="my-shares"),
    path("share/<str:code>/poster.png", share_views.poster, name="share-poster"),
]

# After-sales returns (the form and progress are on the order page).
from orders import views_returns  # noqa: E402

urlpatterns += [
    path("orders/<str:number>/returns/", views_returns.return_create, name="return-create"),
    path("orders/<str:number>/returns/<int:return_id>/ship-back/",
         views_returns.return_ship_back, name="return-ship-back"),
    path("orders/<str:number>/returns/<int:return_id>/withdraw/",
         views_returns.return_withdraw, name="return-withdraw"),
    path("orders/<str:number>/returns/<int:return_id>/photos/<int:photo_id>/",
         views_returns.return_photo, name="return-photo"),
]

# Invoices (发票).
from orders import views_invoices  # noqa: E402

urlpatterns += [
    path("orders/<str:number>/invoice/", views_invoices.invoice_request,
         name="invoice-request"),
    path("orders/<str:number>/invoice/withdraw/", views_invoices.invoice_withdraw,
         name="invoice-withdraw"),
    path("orders/<str:number>/invoice/pdf/", views_invoices.invoice_pdf, name="invoice-pdf"),
    path("invoices/", views_invoices.my_invoices, name="my-invoices"),
    path("invoices/archive/", views_invoices.my_invoices_archive, name="my-invoices-archive"),
]
