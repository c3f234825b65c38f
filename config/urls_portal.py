"""The federation portal: the public schema, on the portal's domains."""

from django.contrib import admin
from django.urls import include, path

from catalog import api_urls as catalog_api_urls
from catalog import views as catalog_views
from config.urls_common import common_urls
from recalls import api_urls as recalls_api_urls

urlpatterns = [
    path("", catalog_views.home, name="home"),
    path("", include("catalog.urls")),
    path("federation/recalls/", include("recalls.federation_urls")),
    path("federation/", include("federation.urls")),
    path("api/v1/federation/", include(recalls_api_urls.federation_urlpatterns)),
    path("api/v1/federation/", include("federation.api_urls")),
    path("federation/partners/", include("partners.urls")),
    # The partner console: a partner platform's own people (PartnerMember).
    path("partner/", include("partners.console_urls")),
    path("api/v1/partner/", include("partners.api_urls")),
    path("api/v1/", include(catalog_api_urls.public_urlpatterns)),
    path("admin/", admin.site.urls),
    *common_urls("config.urls_portal"),
]

handler400 = "core.views.bad_request"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
