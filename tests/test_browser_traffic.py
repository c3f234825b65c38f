"""The traffic dashboards in a real browser: a federation admin opens the federation
console's traffic page and finds the bank-by-bank heat map, the daily charts and the
funnel drawn (SVG with a real size), on a desktop and on a phone-sized screen; a bank's
admin opens the bank's own traffic page.

Thirty days of roll-ups (in 2002, a year no other test or the demo uses) are committed
for the web server to see and removed at the end.
"""

from __future__ import annotations

import datetime
import math
from decimal import Decimal

import pytest

from federation.models import (
    DailyCategoryStat,
    DailyMerchantStat,
    DailyPairStat,
    DailyProductStat,
    DailyRegionStat,
    DailySegmentStat,
)
from tests import test_browser, unique
from tests.catalog_factories import approved_merchant, listed_product
from tests.test_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

browser = test_browser.browser
page = test_browser.page
phone_page = test_browser.phone_page

LAST = datetime.date(2002, 6, 30)
DAYS = [LAST - datetime.timedelta(days=i) for i in range(29, -1, -1)]
QS = f"?start={DAYS[0]:%Y-%m-%d}&end={LAST:%Y-%m-%d}"
MODELS = (DailyPairStat, DailyMerchantStat, DailyProductStat, DailyRegionStat,
          DailyCategoryStat, DailySegmentStat)


@pytest.fixture(scope="module")
def history(province, django_db_blocker):
    tag = unique.tag()
    a, b = province.bank_a, province.bank_b
    with django_db_blocker.unblock():
        m_a, _ = approved_merchant(a, province.a_manager, name=f"甲县果园{tag}")
        m_b, _ = approved_merchant(b, province.b_manager, name=f"乙县蜂场{tag}")
        p_a = listed_product(m_a, name="甲县苹果", origin_county="甲县")
        p_b = listed_product(m_b, name="乙县槐花蜜", origin_county="乙县")
        pairs, merchants = [], []
        for i, day in enumerate(DAYS):
            wave = 1 + 0.4 * math.sin(i / 4)
            for s in (None, a, b):
                pairs.append(DailyPairStat(day=day, storefront_bank=s, merchant_bank=None,
                                           visits=int((60 if s else 25) * wave)))
                for m, merchant, product, price in ((a, m_a, p_a, 45), (b, m_b, p_b, 68)):
                    home = s is not None and s.pk == m.pk
                    views = int((40 if home else 12 if s else 8) * wave)
                    orders = max(1, views // 9)
                    gmv = Decimal(orders * price)
                    fees = (gmv * Decimal("0.02")).quantize(Decimal("0.01")) \
                        if s and not home else Decimal("0")
                    pairs.append(DailyPairStat(
                        day=day, storefront_bank=s, merchant_bank=m, product_views=views,
                        add_to_cart=views // 3, checkouts=orders + 1, orders=orders,
                        buyers=orders, gmv=gmv, referral_fees=fees))
                    common = {"day": day, "storefront_bank": s, "merchant_bank": m,
                              "orders": orders, "gmv": gmv}
                    merchants.append(DailyMerchantStat(merchant_id=merchant.pk,
                                                       product_views=views, **common))
                    DailyProductStat.objects.create(product_id=product.pk,
                                                    merchant_id=merchant.pk, views=views,
                                                    quantity=orders, **common)
                    DailyRegionStat.objects.create(region=product.origin_county,
                                                   product_views=views, **common)
                    DailyCategoryStat.objects.create(category_id=product.category_id,
                                                     product_views=views, **common)
            for s, segment, n in ((a, "villager", 3), (a, "young", 2), (b, "enterprise", 1)):
                DailySegmentStat.objects.create(day=day, storefront_bank=s, segment=segment,
                                                buyers=n, orders=n, gmv=Decimal(n * 50))
        DailyPairStat.objects.bulk_create(pairs)
        DailyMerchantStat.objects.bulk_create(merchants)
    yield {"merchant_a": m_a.name, "merchant_b": m_b.name}
    with django_db_blocker.unblock():
        for model in MODELS:
            model.objects.filter(day__gte=DAYS[0], day__lte=LAST).delete()


def log_in(page, web_server, host, username, password, next_path):
    page.goto(web_server.url(host, f"/accounts/login/?next={next_path}"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def drawn(page, selector: str) -> list[dict]:
    """The bounding boxes of the elements that match, each asserted to have a size."""
    boxes = [el.bounding_box() for el in page.locator(selector).all()]
    assert boxes, f"nothing matches {selector}"
    for box in boxes:
        assert box is not None and box["width"] > 0 and box["height"] > 0, selector
    return boxes


def test_federation_dashboard_draws_the_matrix_and_charts(page, web_server, province,
                                                         history):
    log_in(page, web_server, "localhost", "t-fed-admin", province.password,
           f"/federation/traffic/{QS.replace('&', '%26')}")
    assert "/federation/traffic/" in page.url
    heat = drawn(page, "svg.heatmap")
    assert heat[0]["width"] > 200
    cells = drawn(page, "svg.heatmap rect.cell")
    assert len(cells) >= 3 * 2  # the portal and two banks, by two merchant banks
    labels = page.locator("svg.heatmap text").all_text_contents()
    assert "甲农商行" in labels and "乙农商行" in labels
    assert len(drawn(page, "svg.line")) == 2  # traffic and GMV per day
    assert len(drawn(page, "svg.line polyline.series")) >= 5
    assert len(drawn(page, "svg.bars rect.bar")) == 5  # the funnel's five steps
    assert history["merchant_b"] in page.content()
    shot(page, "traffic-federation")
    # another metric in the heat map
    page.click(".tr-metrics a:nth-child(2)")
    page.wait_for_load_state()
    assert "metric=orders" in page.url
    drawn(page, "svg.heatmap rect.cell")


def test_federation_dashboard_fits_a_phone(phone_page, web_server, province, history):
    page = phone_page
    log_in(page, web_server, "localhost", "t-fed-admin", province.password,
           f"/federation/traffic/{QS.replace('&', '%26')}")
    drawn(page, "svg.heatmap rect.cell")
    drawn(page, "svg.line polyline.series")
    shot(page, "traffic-federation-phone")
    # wide charts and tables scroll inside their boxes; the page itself does not
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_bank_dashboard_shows_its_own_traffic(page, web_server, province, history):
    log_in(page, web_server, "bank-a.localhost", "t-a-admin", province.password,
           f"/console/traffic/{QS.replace('&', '%26')}")
    assert "/console/traffic/" in page.url
    drawn(page, "svg.bars rect.bar")  # in and out, customer groups, funnel
    drawn(page, "svg.line polyline.series")
    content = page.content()
    assert history["merchant_a"] in content and history["merchant_b"] not in content
    shot(page, "traffic-bank-a")
