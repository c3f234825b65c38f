"""Storefront pages: listing without N+1, product, shop and traceability pages, QR codes,
the host bank's merchants first."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from admission.models import Flag
from admission.services import flags_scan
from banks.middleware import clear_host_cache
from catalog.services import batch_create, sales_record, synonyms_changed
from tests.catalog_factories import approved_merchant, listed_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def shops(province):
    a, _ = approved_merchant(province.bank_a, province.a_credit)
    b, _ = approved_merchant(province.bank_b, province.b_admin)
    return a, b


def count_queries(client, path):
    clear_host_cache()  # every measured request looks its bank up the same way
    synonyms_changed()  # ... and reads the synonym dictionary the same way
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    # A SET search_path depends on what the connection was last set to, not on the page.
    return len([q for q in ctx.captured_queries
                if not q["sql"].startswith("SET search_path")])


LISTING_PAGES = ["/search/?per_page=100", "/c/fruit/?per_page=100",
                 "/search/?q=罗汉果&per_page=100", "/", "/api/v1/catalog/products/?per_page=100"]


def test_listing_pages_make_the_same_number_of_queries_for_10_and_100_products(
        province, client_on, shops):
    a, b = shops
    for i in range(10):
        listed_product(a if i % 2 else b, name=f"罗汉果{i}号")
    client = client_on(province.bank_a)
    ten = {path: count_queries(client, path) for path in LISTING_PAGES}
    for i in range(10, 100):
        listed_product(a if i % 2 else b, name=f"罗汉果{i}号")
    hundred = {path: count_queries(client, path) for path in LISTING_PAGES}
    assert hundred == ten


def test_the_host_banks_merchants_come_first(province, client_on, shops):
    a, b = shops
    listed_product(b, name="乙县罗汉果", price="10.00")
    listed_product(a, name="甲县罗汉果", price="90.00")
    listed_product(b, name="乙县罗汉果王", price="20.00")
    for bank, first in ((province.bank_a, "甲县罗汉果"), (province.bank_b, "乙县罗汉果")):
        html = client_on(bank).get("/search/").content.decode()
        names = [n for n in ("甲县罗汉果", "乙县罗汉果王", "乙县罗汉果") if n in html]
        assert html.index(first) == min(html.index(n) for n in names)


def test_product_shop_and_trace_pages(province, client_on, shops):
    _a, b = shops
    product = listed_product(b, name="乙县香菇", gi_label="国家地理标志产品")
    batch = batch_create(product=product, code="XG-001", harvest_date=datetime.date(2026, 3, 1),
                         farm="乙县林下基地", plot="3号棚",
                         inputs=[{"kind": "fertiliser", "name": "木屑菌棒", "date": "2026-01-05"}],
                         lab_report="农残检测合格")
    client = client_on(province.bank_a)
    html = client.get(f"/p/{product.pk}/").content.decode()
    assert "乙县香菇" in html and "XG-001" in html and "国家地理标志产品" in html
    assert f"/trace/{batch.trace_token}/" in html
    shop = client.get(f"/shop/{b.pk}/").content.decode()
    assert "乙县香菇" in shop and "乙县农村商业银行" in shop
    trace = client.get(f"/trace/{batch.trace_token}/").content.decode()
    assert "乙县林下基地" in trace and "木屑菌棒" in trace and "农残检测合格" in trace
    png = client.get(f"/trace/{batch.trace_token}/qr.png")
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.get(f"/trace/{batch.trace_token}/qr.svg")
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content


def test_hidden_products_are_404(province, client_on, shops):
    from catalog.services import product_transition

    a, _b = shops
    product = listed_product(a, name="下架的茶")
    product_transition(product=product, action="delist")
    assert client_on(province.bank_a).get(f"/p/{product.pk}/").status_code == 404
    assert client_on(province.bank_a).get("/p/999999/").status_code == 404
    assert client_on(province.bank_a).get("/trace/00000000-0000-0000-0000-000000000000/"
                                          ).status_code == 404


def test_bad_listing_parameters_do_not_break_the_page(province, client_on, shops):
    client = client_on(province.bank_a)
    for query in ("?page=abc", "?page=-3", "?sort=evil", "?price=1-2", "?q=%27%3B--",
                  "?per_page=100000", "?q=" + "长" * 60):
        assert client.get("/search/" + query).status_code == 200, query
    # longer than the search box allows: refused with a message (not cut, not a 500)
    for path in ("/search/",):
        response = client.get(path + "?q=" + "长" * 500)
        assert response.status_code == 400
        assert 'role="alert"' in response.content.decode()
    assert client.get("/c/no-such-category/").status_code == 404


def test_flags_scan_raises_and_resolves_licence_and_review_flags(province, shops):
    a, _b = shops
    from admission.models import Dossier

    bank = province.bank_a
    with schema_context(bank.schema_name):
        dossier = Dossier.objects.get(merchant_id=a.pk)
        licence = dossier.licences.get()
        today = datetime.date(2026, 6, 1)
        licence.expires_on = today + datetime.timedelta(days=10)
        licence.save()
        assert flags_scan(today=today)["raised"] == 1
        assert Flag.objects.get(resolved_at__isnull=True).kind == "licence_expiring"
        assert flags_scan(today=today)["raised"] == 0            # idempotent
        later = today + datetime.timedelta(days=11)
        result = flags_scan(today=later)
        kinds = set(Flag.objects.filter(resolved_at__isnull=True).values_list("kind",
                                                                              flat=True))
        assert kinds == {"licence_expired"}
        assert result["resolved"] == 1
        licence.expires_on = datetime.date(2031, 1, 1)
        licence.save()
        dossier.next_review_due = later
        dossier.save()
        flags_scan(today=later)
        kinds = set(Flag.objects.filter(resolved_at__isnull=True).values_list("kind",
                                                                              flat=True))
        assert kinds == {"review_due"}
    with schema_context(province.bank_b.schema_name):
        assert not Flag.objects.exists()  # B's schema never saw A's flags


def test_flags_show_in_the_banks_queue(province, client_on, shops):
    a, _ = shops
    from admission.models import Dossier

    with schema_context(province.bank_a.schema_name):
        dossier = Dossier.objects.get(merchant_id=a.pk)
        dossier.licences.update(expires_on=datetime.date.today())
        flags_scan()
    html = client_on(province.bank_a, province.a_credit).get("/console/merchants/").content
    assert a.name in html.decode()
    assert client_on(province.bank_a, province.a_credit).get(
        f"/console/merchants/{a.pk}/").status_code == 200


def test_paging_across_the_banks_own_part_and_the_province(province, shops):
    from catalog.models import Product
    from catalog.selectors import ListingQuery, storefront_listing
    from tests.catalog_factories import category

    a, b = shops
    cat = category("paging-test", "分页测试", "paging-root", "分页根")
    for i in range(5):
        listed_product(a, name=f"甲货{i}", cat=cat)
    for i in range(6):
        listed_product(b, name=f"乙货{i}", cat=cat)
    Product.objects.filter(name__startswith="乙货").update(sales_count=100)
    seen = []
    for page in (1, 2, 3):
        listing = storefront_listing(host_bank=province.bank_a,
                                     lq=ListingQuery(page=page, per_page=4, category=cat),
                                     with_facets=False)
        assert listing.total == 11 and listing.pages == 3
        seen += [p.name for p in listing.products]
    assert len(seen) == 11 and len(set(seen)) == 11
    assert all(n.startswith("甲货") for n in seen[:5])   # the host bank's first
    assert all(n.startswith("乙货") for n in seen[5:])


def test_cards_and_the_product_page_show_how_many_were_sold(province, client_on, shops):
    product = listed_product(shops[0], name="已售计数罗汉果")
    sales_record(sku_quantities={product.skus.get().pk: 7})
    client = client_on(province.bank_a)
    assert "已售 7" in client.get(f"/shop/{shops[0].pk}/").content.decode()
    assert "已售 7" in client.get(f"/p/{product.pk}/").content.decode()
    english = client.get(f"/p/{product.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "7 sold" in english
