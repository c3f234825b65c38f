"""Bank console pages for lending, under /console/lending/ (bank domains only)."""

from django.urls import path

from lending import console_views as views
from lending import pledge_views

app_name = "console_lending"
urlpatterns = [
    path("", views.queue, name="home"),
    path("applications/", views.applications, name="applications"),
    path("applications/<int:application_id>/", views.application_detail, name="application"),
    path("applications/<int:application_id>/decide/", views.application_decide,
         name="decide"),
    path("profiles/", views.profiles, name="profiles"),
    path("profiles/recompute/", views.profile_recompute, name="recompute"),
    path("profiles/<str:party>/<int:party_id>/", views.profile_detail, name="profile"),
    path("runs/", views.run_start, name="run-start"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="run-progress"),
    path("portfolio/", views.portfolio, name="portfolio"),
    path("overdue/", views.overdue, name="overdue"),
    path("loans/", views.loans, name="loans"),
    path("loans/<int:loan_id>/", views.loan_detail, name="loan"),
    path("loans/<int:loan_id>/write-off/", views.loan_write_off, name="write-off"),
    path("margin-calls/", pledge_views.console_margin_calls, name="margin-calls"),
    path("policy/", views.policy, name="policy"),
]
