from django.urls import path

from partners import views

app_name = "partners"
urlpatterns = [
    path("", views.partners_page, name="list"),
    path("<int:partner_id>/<slug:action>/", views.partner_action, name="action"),
]
