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
