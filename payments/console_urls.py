"""Bank console pages for settlement, under /console/settlement/ (bank domains only)."""

from django.urls import path

from payments import console_views as views

app_name = "console_settlement"
urlpatterns = [
    path("", views.settlement_home, name="home"),
    path("runs/", views.run_start, name="start"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="progress"),
    path("runs/<int:run_id>/resume/", views.run_resume, name="resume"),
    path("lines/<int:line_id>/confirm/", views.line_confirm, name="line-confirm"),
    path("lines/<int:line_id>/fail/", views.line_fail, name="line-fail"),
    path("batches/<int:batch_id>/file/", views.batch_file, name="batch-file"),
    path("merchants/<int:merchant_id>/", views.merchant_statement, name="merchant"),
    path("merchants/<int:merchant_id>/account/", views.merchant_account, name="account"),
]
