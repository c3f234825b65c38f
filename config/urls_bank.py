"""A member bank's domain: its storefront and its staff console."""

from django.urls import include, path

from admission import views as admission_views
from catalog import api_urls as catalog_api_urls
from catalog import views as catalog_views
from config.urls_common import common_urls
from lending import api_urls as lending_api_urls
from orders import api_urls as orders_api_urls
from orders import assisted_api_urls, urls_reviews
from partners import api_urls as partners_api_urls
from payments import api_urls as payments_api_urls
from payments import desk_api
from recalls import api_urls as recalls_api_urls
from rewards import api_urls as rewards_api_urls
from warehouses import api_urls as warehouses_api_urls

urlpatterns = [
    path("", catalog_views.home, name="home"),
    path("", include("catalog.urls")),
    path("console/", include("banks.console_urls")),
    path("console/", include("admission.console_urls")),
    path("console/orders/", include("orders.console_urls")),
    path("console/desk/", include("payments.desk_urls")),  # before the desk pages
    path("console/desk/", include("orders.desk_urls")),
    path("console/settlement/", include("payments.console_urls")),
    path("console/traffic/", include("federation.bank_urls")),
    path("console/lending/", include("lending.console_urls")),
    path("console/recalls/", include("recalls.console_urls")),
    path("console/warehouses/", include("warehouses.console_urls")),
    path("console/points/", include("rewards.console_urls")),
    # Credit is the bank's own (its schema): buyers' credit pages are on its domain only.
    path("credit/", include("lending.urls")),
    # Points are the bank's own (its schema): the points pages and mall are on its domain.
    path("points/", include("rewards.urls")),
    # Partner platforms' customers pay here, from a signed link (no account needed).
    path("partner-pay/", include("partners.pay_urls")),
    path("merchant/apply/", admission_views.apply, name="merchant-apply"),
    path("merchant/<int:merchant_id>/licences/", admission_views.merchant_licences,
         name="merchant-licences"),
    path("merchant/<int:merchant_id>/orders/", include("orders.merchant_urls")),
    path("merchant/<int:merchant_id>/returns/", include("orders.merchant_urls_returns")),
    path("merchant/<int:merchant_id>/invoices/", include("orders.merchant_urls_invoices")),
    path("merchant/<int:merchant_id>/settlements/", include("payments.merchant_urls")),
    path("merchant/<int:merchant_id>/financing/", include("lending.merchant_urls")),
    path("merchant/<int:merchant_id>/warehouses/", include("warehouses.merchant_urls")),
    path("", include((urls_reviews.console_urlpatterns, "reviews_console"))),
    path("merchant/", include("catalog.merchant_urls")),
    path("api/v1/", include("banks.api_urls")),
    path("api/v1/", include(catalog_api_urls.public_urlpatterns)),
    path("api/v1/", include(catalog_api_urls.merchant_urlpatterns)),
    path("api/v1/", include("admission.api_urls")),
    path("api/v1/", include(orders_api_urls.merchant_urlpatterns)),
    path("api/v1/", include(orders_api_urls.console_urlpatterns)),
    path("api/v1/", include(assisted_api_urls.console_urlpatterns)),
    path("api/v1/", include(desk_api.console_urlpatterns)),
    path("api/v1/", include(payments_api_urls.merchant_urlpatterns)),
    path("api/v1/", include(payments_api_urls.console_urlpatterns)),
    path("api/v1/", include("federation.bank_api_urls")),
    path("api/v1/", include(recalls_api_urls.console_urlpatterns)),
    path("api/v1/", include(warehouses_api_urls.console_urlpatterns)),
    path("api/v1/", include(warehouses_api_urls.merchant_urlpatterns)),
    path("api/v1/", include(lending_api_urls.shopper_urlpatterns)),
    path("api/v1/", include(lending_api_urls.merchant_urlpatterns)),
    path("api/v1/", include(lending_api_urls.console_urlpatterns)),
    path("api/v1/", include(rewards_api_urls.shopper_urlpatterns)),
    path("api/v1/", include(rewards_api_urls.console_urlpatterns)),
    path("api/v1/", include(partners_api_urls.bank_urlpatterns)),
    *common_urls("config.urls_bank"),
]

handler400 = "core.views.bad_request"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
