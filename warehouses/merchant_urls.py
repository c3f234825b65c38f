from django.urls import path

from warehouses import views

app_name = "merchant_warehouses"

urlpatterns = [
    path("", views.merchant_stock, name="stock"),
]
