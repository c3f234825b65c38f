"""Merchant console pages for invoices, under /merchant/<merchant_id>/invoices/."""

from django.urls import path

from orders import merchant_views_invoices as views

app_name = "merchant_invoices"
urlpatterns = [
    path("", views.invoice_list, name="list"),
    path("<int:invoice_id>/", views.invoice_detail, name="detail"),
    path("<int:invoice_id>/issue/", views.invoice_issue, name="issue"),
    path("<int:invoice_id>/reject/", views.invoice_reject, name="reject"),
    path("<int:invoice_id>/pdf/", views.invoice_pdf, name="pdf"),
]
