"""Taking payments at a branch desk (bank domains), mounted at /console/desk/."""

from django.urls import path

from payments import desk_views as views

app_name = "console_desk_pay"
urlpatterns = [
    path("pay/<str:number>/", views.desk_pay, name="pay"),
]
