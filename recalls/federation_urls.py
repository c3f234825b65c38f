from django.urls import path

from recalls import views

app_name = "federation_recalls"

urlpatterns = [
    path("", views.federation_recalls, name="list"),
    path("<int:recall_id>/close/", views.federation_recall_close, name="close"),
]
