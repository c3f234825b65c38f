"""A member bank's domain: its storefront and its staff console."""

from django.urls import include, path

from banks import views as bank_views
from config.urls_common import common_urls

urlpatterns = [
    path("", bank_views.storefront_home, name="home"),
    path("console/", include("banks.console_urls")),
    path("api/v1/", include("banks.api_urls")),
    *common_urls("config.urls_bank"),
]

handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
