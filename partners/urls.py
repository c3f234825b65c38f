from django.urls import path

from partners import views

app_name = "partners"
urlpatterns = [
    path("", views.partners_page, name="list"),
    path("members/", views.member_add_page, name="member-add"),
    path("members/<int:member_id>/remove/", views.member_remove_page, name="member-remove"),
    path("<int:partner_id>/<slug:action>/", views.partner_action, name="action"),
]
