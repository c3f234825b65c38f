from django.urls import path

from warehouses import views

app_name = "console_warehouses"

urlpatterns = [
    path("", views.console_warehouses, name="list"),
]
