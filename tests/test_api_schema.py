"""The OpenAPI schema each host serves describes that host's API; its docs page loads no
asset from the internet."""

import pytest

pytestmark = pytest.mark.django_db


def schema_paths(client) -> set[str]:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return set(response.json()["paths"])


def test_portal_schema_lists_the_federation_api(province, client_on):
    paths = schema_paths(client_on(None))
    assert "/api/v1/federation/banks/" in paths
    assert "/api/v1/federation/referral-statements/" in paths
    assert "/api/v1/me/" in paths
    assert "/api/v1/console/branches/" not in paths


def test_bank_schema_lists_the_storefront_and_console_api(province, client_on):
    paths = schema_paths(client_on(province.bank_a))
    assert {"/api/v1/storefront/", "/api/v1/console/branches/",
            "/api/v1/console/branches/{branch_id}/", "/api/v1/console/staff/"} <= paths
    assert "/api/v1/federation/banks/" not in paths


def test_docs_page_serves_its_assets_locally(province, client_on):
    html = client_on(province.bank_a).get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "https://" not in html


SHOPPER_PATHS = {
    "/api/v1/cart/", "/api/v1/cart/items/", "/api/v1/cart/items/{sku_id}/",
    "/api/v1/checkouts/", "/api/v1/checkouts/{number}/", "/api/v1/checkouts/{number}/cancel/",
    "/api/v1/checkouts/{number}/payments/", "/api/v1/orders/", "/api/v1/orders/{number}/",
    "/api/v1/orders/{number}/confirm-receipt/", "/api/v1/orders/{number}/refunds/",
    "/api/v1/payments/{payment_id}/", "/api/v1/payments/webhooks/stripe/",
}
BANK_ONLY_PATHS = {
    "/api/v1/share-links/",
    "/api/v1/merchant/{merchant_id}/orders/",
    "/api/v1/merchant/{merchant_id}/orders/{number}/",
    "/api/v1/merchant/{merchant_id}/orders/{number}/ship/",
    "/api/v1/merchant/{merchant_id}/orders/{number}/tracking/",
    "/api/v1/merchant/{merchant_id}/orders/{number}/ready-for-pickup/",
    "/api/v1/merchant/{merchant_id}/orders/{number}/refunds/",
    "/api/v1/merchant/{merchant_id}/refunds/{refund_id}/decide/",
    "/api/v1/merchant/{merchant_id}/shipping-rule/",
    "/api/v1/merchant/{merchant_id}/flash-sales/",
    "/api/v1/console/orders/", "/api/v1/console/orders/{number}/",
    "/api/v1/console/pickups/verify/",
    "/api/v1/console/settlement-runs/", "/api/v1/console/settlement-runs/{run_id}/",
    "/api/v1/console/payout-batches/{batch_id}/",
    "/api/v1/console/payout-batches/{batch_id}/file/",
    "/api/v1/console/payout-lines/{line_id}/confirm/",
    "/api/v1/console/payout-lines/{line_id}/fail/",
    "/api/v1/console/merchants/{merchant_id}/statement/",
    "/api/v1/console/merchants/{merchant_id}/settlement-account/",
    "/api/v1/merchant/{merchant_id}/settlements/",
}


def test_buying_api_is_in_each_hosts_schema(province, client_on):
    bank = client_on(province.bank_a).get("/api/v1/schema/?format=json").json()
    assert set(bank["paths"]) >= SHOPPER_PATHS | BANK_ONLY_PATHS
    portal = schema_paths(client_on(None))
    assert portal >= SHOPPER_PATHS
    assert not BANK_ONLY_PATHS & portal
    pay = bank["paths"]["/api/v1/checkouts/{number}/payments/"]["post"]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= next(
        p for p in pay["parameters"] if p["in"] == "header").items()
    assert {"200", "201"} <= set(pay["responses"])
    hook = bank["paths"]["/api/v1/payments/webhooks/stripe/"]["post"]
    assert hook["security"] == [{}]  # no authentication: the signature is the check


@pytest.mark.parametrize("urlconf", ["config.urls_bank", "config.urls_portal"])
def test_schema_generates_without_warnings_or_errors(urlconf):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    schema = SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True)
    assert schema["paths"]
    assert dict(GENERATOR_STATS._warn_cache) == {}
    assert dict(GENERATOR_STATS._error_cache) == {}
