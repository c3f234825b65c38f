"""URLs served on every host: the portal and each bank's domain."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views
from accounts.api import (
    DivisionListApi,
    PasswordCodeApi,
    PasswordCodeSetApi,
    SignInUnlockApi,
)
from core import uploads
from core import views as core_views
from federation import catalogue_views
from orders import api_urls as orders_api_urls
from orders import urls_reviews
from warehouses import api_urls as warehouses_api_urls


def common_urls(urlconf: str) -> list:
    """URLs on every host. The OpenAPI schema describes the API of the host it is served
    on (the portal's or a bank domain's), so it is built from that host's urlconf."""
    return [
        path("healthz", core_views.healthz, name="healthz"),
        path("i18n/setlang/", account_views.set_language, name="set_language"),
        path("accounts/", include("accounts.urls")),
        # The data catalogue: what the platform records and why (every host, everyone).
        path("data-catalogue/", catalogue_views.data_catalogue, name="data-catalogue"),
        path("api/v1/schema/", SpectacularAPIView.as_view(urlconf=urlconf), name="api-schema"),
        # The split view serves Swagger UI's start-up script as a file: no inline script,
        # as the pages' Content-Security-Policy asks.
        path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
             name="api-docs"),
        path("api/v1/me/", include("accounts.api_urls")),
        path("api/v1/divisions/", DivisionListApi.as_view(), name="api-divisions"),
        path("api/v1/me/", include("notifications.api_urls")),
        path("notifications/", include("notifications.urls")),
        path("api/v1/sign-in/unlock/", SignInUnlockApi.as_view(), name="api-sign-in-unlock"),
        path("api/v1/password-codes/", PasswordCodeApi.as_view(), name="api-password-codes"),
        path("api/v1/password-codes/set/", PasswordCodeSetApi.as_view(),
             name="api-password-code-set"),
        # Warehouse receipts verify publicly from their QR code, on every host.
        path("receipts/", include("warehouses.urls")),
        path("api/v1/", include(warehouses_api_urls.public_urlpatterns)),
        # Buying and paying work on the portal and on every bank's storefront.
        path("", include("orders.urls")),
        path("", include((urls_reviews.shopper_urlpatterns, "reviews"))),
        path("pay/", include("payments.urls")),
        path("api/v1/", include(orders_api_urls.shopper_urlpatterns)),
        path("api/v1/", include("payments.api_urls")),
        # Public catalog files (product images, batch reports). In production the proxy
        # serves this folder; a bank's private files are never under it.
        re_path(r"^media/public/(?P<path>.*)$", uploads.serve_public),
    ]
