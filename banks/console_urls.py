from django.urls import path

from banks import views

app_name = "console"
urlpatterns = [
    path("", views.console_home, name="home"),
    path("branches/<int:branch_id>/", views.console_branch, name="branch"),
    path("policy/", views.console_policy, name="policy"),
]
