from django.urls import path

from banks import views

app_name = "console"
urlpatterns = [
    path("", views.console_home, name="home"),
    path("branches/<int:branch_id>/", views.console_branch, name="branch"),
    path("policy/", views.console_policy, name="policy"),
    path("audit/", views.console_audit, name="audit"),
    path("customer-group/", views.console_customer_group, name="customer-group"),
    path("staff/", views.console_staff, name="staff"),
    path("staff/<int:membership_id>/", views.console_staff_change, name="staff-change"),
]
