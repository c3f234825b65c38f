from django.urls import path

from federation import catalogue_views, search_views, traffic_views, views

app_name = "federation"
urlpatterns = [
    path("", views.console_home, name="home"),
    path("banks/new/", views.bank_onboard_page, name="bank-onboard"),
    path("admins/", views.federation_admins_page, name="admins"),
    path("referral-statements/", views.referral_statement_page, name="referral-statement"),
    path("settlement/", views.settlement_day_page, name="settlement-day"),
    path("settlement/progress/", views.settlement_day_progress, name="settlement-day-progress"),
    path("traffic/", traffic_views.federation_traffic, name="traffic"),
    path("search/", search_views.federation_search, name="search"),
    path("data-catalogue/", catalogue_views.data_catalogue, name="data-catalogue"),
]
