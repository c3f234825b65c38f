"""Statements of two hot reads, counted on the real database so that a regression shows
(no timing): the product page reads its flash sales once, whatever the number of SKUs;
a checkout is read back (API answer, checkout page) in three SELECTs, however many
orders, banks and branches it spans."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.services import SkuSpec, sku_add
from orders import services as orders
from orders.models import FlashSale
from tests import unique
from tests.catalog_factories import approved_merchant
from tests.orders_factories import ADDRESS, market, place, product_with_sku

pytestmark = pytest.mark.django_db


def statements(client, path) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    return response, [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def two_skus_on_sale(province):
    merchant, _ = approved_merchant(province.bank_a, province.a_manager,
                                    name=f"双规格园{unique.tag()}")
    first = product_with_sku(merchant, name=f"双规格蜜{unique.tag()}", price="39.90", stock=30)
    second = sku_add(product=first.product, spec=SkuSpec(spec="尝鲜装", unit="瓶",
                                                         price=Decimal("19.90"), stock=30))
    now = timezone.now()
    for sku, price in ((first, "9.90"), (second, "4.90")):
        orders.flash_sale_create(sku=sku, title=f"秒杀{unique.tag()}", price=price,
                                 starts_at=now - timedelta(minutes=1),
                                 ends_at=now + timedelta(minutes=30), quantity=5,
                                 per_customer_limit=2)
    # and one to come on the first SKU
    orders.flash_sale_create(sku=first, title=f"下一场{unique.tag()}", price="8.80",
                             starts_at=now + timedelta(hours=1),
                             ends_at=now + timedelta(hours=2), quantity=5,
                             per_customer_limit=1)
    return first.product


def flash_reads(sql: list[str]) -> list[str]:
    return [s for s in sql if s.startswith("SELECT") and 'FROM "orders_flashsale"' in s]


def take_reads(sql: list[str]) -> list[str]:
    return [s for s in sql if s.startswith("SELECT") and 'FROM "orders_flashsaletake"' in s]


def test_the_product_page_reads_its_flash_sales_once(province, client_on, two_skus_on_sale):
    path = f"/p/{two_skus_on_sale.pk}/"
    response, sql = statements(client_on(province.bank_a), path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "¥9.90" in html and "¥4.90" in html and "下一场" not in html
    assert len(flash_reads(sql)) == 1 and take_reads(sql) == []

    response, sql = statements(client_on(province.bank_a, province.shopper), path)
    assert "You can still buy 2" in client_on(province.bank_a, province.shopper).get(
        path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert len(flash_reads(sql)) == 1 and len(take_reads(sql)) == 1


def test_a_page_without_a_running_sale_reads_no_takes(province, client_on, two_skus_on_sale):
    FlashSale.objects.filter(sku__product=two_skus_on_sale,
                             starts_at__lte=timezone.now()).delete()
    response, sql = statements(client_on(province.bank_a, province.shopper),
                               f"/p/{two_skus_on_sale.pk}/")
    assert response.status_code == 200 and "¥9.90" not in response.content.decode()
    assert len(flash_reads(sql)) == 1 and take_reads(sql) == []


def test_a_checkout_is_read_back_in_three_selects(province, api_on, client_on):
    m = market(province)
    checkout = place(province.shopper, province.bank_a, [(m.sku_a, 2), (m.sku_b, 1)],
                     fulfilment={m.merchant_a.pk: orders.FulfilmentChoice(
                         "pickup", province.a_branch.pk)}, delivery=ADDRESS)
    api = api_on(province.bank_a, province.shopper)
    api.get(f"/api/v1/checkouts/{checkout.number}/")   # the host is known
    response, sql = statements(api, f"/api/v1/checkouts/{checkout.number}/")
    assert response.status_code == 200
    body = response.json()
    assert body["storefront_bank"] == province.bank_a.code
    assert sorted(o["merchant"]["bank"] for o in body["orders"]) == sorted(
        [province.bank_a.code, province.bank_b.code])
    assert {o["pickup_branch"]["bank"] for o in body["orders"] if o["pickup_branch"]} == {
        province.bank_a.code}
    selects = [s for s in sql if s.startswith("SELECT")]
    assert len(selects) == 3, selects
