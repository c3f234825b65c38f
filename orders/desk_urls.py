"""Branch desk pages of the bank console (bank domains only), mounted at /console/desk/."""

from django.urls import path

from orders import desk_views as views

app_name = "console_desk"
urlpatterns = [
    path("", views.desk_home, name="home"),
    path("new/", views.desk_new, name="new"),
    path("waiting/", views.desk_waiting, name="waiting"),
    path("slip/<str:number>/", views.desk_slip, name="slip"),
    path("<str:number>/", views.desk_detail, name="detail"),
    path("<str:number>/<str:action>/", views.desk_action, name="action"),
]
