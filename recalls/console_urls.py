from django.urls import path

from recalls import views

app_name = "console_recalls"

urlpatterns = [
    path("", views.console_recalls, name="list"),
    path("<int:recall_id>/close/", views.console_recall_close, name="close"),
]
