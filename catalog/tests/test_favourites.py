"""收藏: shoppers keep products and shops (page and API), once each, only what is on sale,
and see only their own."""

from __future__ import annotations

import pytest

from accounts.services import user_register
from catalog.models import Favourite
from catalog.services import product_transition
from tests import unique
from tests.orders_factories import market

pytestmark = pytest.mark.django_db


def fresh(province):
    return user_register(username=f"t-fav-{unique.tag()}", password=province.password)


def test_keeping_through_the_api_is_idempotent_and_private(province, api_on):
    shop = market(province)
    me, other = fresh(province), fresh(province)
    api = api_on(province.bank_a, me)
    product = f"/api/v1/me/favourites/products/{shop.sku_a.product_id}/"
    assert api.put(product).json() == {"kept": True}
    assert api.put(product).json() == {"kept": True}          # again: still once
    assert api.put(f"/api/v1/me/favourites/shops/{shop.merchant_b.pk}/").status_code == 200
    assert Favourite.objects.filter(user=me).count() == 2
    listed = api.get("/api/v1/me/favourites/").json()
    assert [p["id"] for p in listed["products"]] == [shop.sku_a.product_id]
    assert [m["id"] for m in listed["shops"]] == [shop.merchant_b.pk]
    assert api_on(province.bank_a, other).get("/api/v1/me/favourites/").json() == {
        "products": [], "shops": []}
    assert api_on(province.bank_a).get("/api/v1/me/favourites/").status_code == 401

    # Only what is on sale can be kept; a kept product taken off sale is not shown.
    assert api.put("/api/v1/me/favourites/products/999999999/").status_code == 404
    product_transition(product=shop.sku_a.product, action="delist")
    assert api.get("/api/v1/me/favourites/").json()["products"] == []
    assert api.put(product).status_code == 404
    assert api.delete(product).json() == {"kept": False}
    assert not Favourite.objects.filter(user=me, product_id=shop.sku_a.product_id).exists()


def test_the_pages_keep_and_drop_and_list(province, client_on):
    shop = market(province)
    me = fresh(province)
    client = client_on(province.bank_a, me)
    page = f"/p/{shop.sku_a.product_id}/"
    assert 'aria-pressed="false"' in client.get(page).content.decode()
    kept = client.post("/favourites/toggle/", {"product": shop.sku_a.product_id, "on": "1",
                                               "next": page})
    assert kept.status_code == 302 and kept["Location"] == page
    assert 'aria-pressed="true"' in client.get(page).content.decode()
    client.post("/favourites/toggle/", {"merchant": shop.merchant_a.pk, "on": "1"})
    listing = client.get("/favourites/").content.decode()
    assert "甲县苹果" in listing and shop.merchant_a.name in listing
    client.post("/favourites/toggle/", {"product": shop.sku_a.product_id, "on": "0"})
    assert "甲县苹果" not in client.get("/favourites/").content.decode()
    # Bad input: 400 or 404, nothing kept; a visitor is sent to sign in.
    assert client.post("/favourites/toggle/", {"on": "1"}).status_code == 400
    assert client.post("/favourites/toggle/", {"product": "999999999", "on": "1"}
                       ).status_code == 404
    assert Favourite.objects.filter(user=me).count() == 1
    anonymous = client_on(province.bank_a).post("/favourites/toggle/", {
        "product": shop.sku_a.product_id, "on": "1"})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
