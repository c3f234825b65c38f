"""The traffic dashboards: the federation's (all banks) and a bank's own (only its rows),
their CSV / Excel downloads and their API, on roll-up rows written for the test.

The roll-ups sit on days of 2001, which no other test or the demo uses, so the sums over
those days are this test's own even though other tests commit data.
"""

from __future__ import annotations

import csv
import datetime
import html
import io
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django_tenants.utils import schema_context

from federation import selectors
from federation.models import (
    DailyCategoryStat,
    DailyMerchantStat,
    DailyPairStat,
    DailyProductStat,
    DailyRegionStat,
    DailySegmentStat,
)
from tests.catalog_factories import approved_merchant, category, listed_product

pytestmark = pytest.mark.django_db

D1 = datetime.date(2001, 3, 1)
D2 = datetime.date(2001, 3, 2)
RANGE = {"start": "2001-03-01", "end": "2001-03-02"}
QS = "?start=2001-03-01&end=2001-03-02"


def roll_ups(province, *, d1=D1, d2=D2, tag=""):
    """Two banks trading with each other and through the portal over two days."""
    a, b = province.bank_a, province.bank_b
    m_a, _ = approved_merchant(a, province.a_manager, name=f"甲果园流量{tag}")
    m_b, _ = approved_merchant(b, province.b_manager, name=f"乙蜂场流量{tag}")
    cat = category()
    p_a = listed_product(m_a, name="甲县苹果", origin_county="甲县")
    p_b = listed_product(m_b, name="乙县槐花蜜", origin_county="乙县")
    pair = [
        # day, storefront, merchant bank, visits, views, cart, checkouts, orders, gmv, fees
        (d1, a, None, 100, 0, 0, 0, 0, "0", "0"),
        (d1, a, a, 0, 50, 10, 6, 5, "500.00", "0"),
        (d1, a, b, 0, 30, 5, 3, 2, "200.00", "4.00"),
        (d1, b, None, 80, 0, 0, 0, 0, "0", "0"),
        (d1, b, b, 0, 40, 8, 4, 4, "400.00", "0"),
        (d1, b, a, 0, 20, 2, 1, 1, "90.00", "1.80"),
        (d2, None, None, 30, 0, 0, 0, 0, "0", "0"),
        (d2, None, a, 0, 10, 1, 1, 1, "45.50", "0"),
        (d2, a, b, 0, 7, 1, 1, 1, "68.00", "1.36"),
    ]
    for day, s, m, visits, views, cart, checkouts, orders, gmv, fees in pair:
        DailyPairStat.objects.create(
            day=day, storefront_bank=s, merchant_bank=m, visits=visits, product_views=views,
            add_to_cart=cart, checkouts=checkouts, orders=orders, buyers=orders,
            gmv=Decimal(gmv), referral_fees=Decimal(fees))
    per_merchant = [  # day, storefront, merchant, product, views, cart, orders, gmv
        (d1, a, m_a, p_a, 50, 10, 5, "500.00"), (d1, b, m_a, p_a, 20, 2, 1, "90.00"),
        (d2, None, m_a, p_a, 10, 1, 1, "45.50"), (d1, a, m_b, p_b, 30, 5, 2, "200.00"),
        (d1, b, m_b, p_b, 40, 8, 4, "400.00"), (d2, a, m_b, p_b, 7, 1, 1, "68.00"),
    ]
    for day, s, m, p, views, cart, orders, gmv in per_merchant:
        common = {"day": day, "storefront_bank": s, "merchant_bank": m.bank,
                  "orders": orders, "gmv": Decimal(gmv)}
        DailyMerchantStat.objects.create(merchant_id=m.pk, product_views=views,
                                         add_to_cart=cart, **common)
        DailyProductStat.objects.create(product_id=p.pk, merchant_id=m.pk, views=views,
                                        quantity=orders * 2, **common)
        DailyRegionStat.objects.create(region=p.origin_county, product_views=views, **common)
        DailyCategoryStat.objects.create(category_id=cat.pk, product_views=views, **common)
    for day, s, segment, buyers, orders, gmv in [
            (d1, a, "villager", 3, 4, "600.00"), (d1, a, "young", 2, 3, "100.00"),
            (d2, a, "", 1, 1, "68.00"), (d1, b, "enterprise", 5, 5, "490.00")]:
        DailySegmentStat.objects.create(day=day, storefront_bank=s, segment=segment,
                                        buyers=buyers, orders=orders, gmv=Decimal(gmv))
    return SimpleNamespace(m_a=m_a, m_b=m_b, p_a=p_a, p_b=p_b)


@pytest.fixture
def traffic(province):
    return roll_ups(province)


# --- the selectors -----------------------------------------------------------------------


def test_matrix_per_pair_of_banks(province, traffic):
    a, b = province.bank_a, province.bank_b
    matrix = selectors.traffic_matrix(start=D1, end=D2)
    assert matrix.storefronts[0] is None  # the portal first
    a_to_b = matrix.cell(a, b)
    assert (a_to_b.product_views, a_to_b.orders, a_to_b.gmv, a_to_b.referral_fees) == (
        37, 3, Decimal("268.00"), Decimal("5.36"))
    assert a_to_b.cross_bank and a_to_b.conversion == Decimal("8.1")  # 3 / 37
    assert not matrix.cell(a, a).cross_bank
    assert matrix.cell(None, a).gmv == Decimal("45.50")
    fronts = {f.storefront_code: f for f in matrix.storefront_rows}
    assert fronts["bank-a"].visits == 100 and fronts["bank-a"].orders == 8
    assert fronts["bank-a"].gmv == Decimal("768.00")
    assert fronts["bank-a"].cross_bank_gmv == Decimal("268.00")
    assert fronts["bank-a"].conversion == Decimal("8.0")
    assert fronts[""].visits == 30
    summary = selectors.traffic_summary(matrix)
    assert summary.gmv == Decimal("1303.50") and summary.visits == 210
    assert summary.cross_bank_gmv == Decimal("358.00")  # the portal is no bank
    assert summary.referral_fees == Decimal("7.16")
    # one day only
    only_d2 = selectors.traffic_matrix(start=D2, end=D2)
    assert only_d2.cell(a, b).orders == 1 and only_d2.cell(a, a) is None


def test_series_funnel_tops_and_credit(province, traffic):
    a, b = province.bank_a, province.bank_b
    points = selectors.traffic_series(start=D1, end=datetime.date(2001, 3, 3))
    assert [p.day for p in points] == [D1, D2, datetime.date(2001, 3, 3)]
    assert (points[0].visits, points[0].product_views, points[0].cross_bank_views) == (
        180, 140, 50)
    assert points[0].gmv == Decimal("1190.00") and points[0].cross_bank_gmv == Decimal("290.00")
    assert points[1].cross_bank_gmv == Decimal("68.00") and points[2].gmv == 0
    funnel = selectors.traffic_funnel(start=D1, end=D2)
    assert [s.count for s in funnel] == [210, 157, 27, 16, 14]
    assert funnel[-1].of_previous == Decimal("87.5") and funnel[1].of_first == Decimal("74.8")
    products = selectors.top_products(start=D1, end=D2)
    assert [p.key for p in products] == [traffic.p_b.pk, traffic.p_a.pk]
    assert products[0].gmv == Decimal("668.00") and products[0].bank == b
    assert [r.name for r in selectors.top_regions(start=D1, end=D2)] == ["乙县", "甲县"]
    pairs, per_bank = selectors.referral_credit(start=D1, end=D2)
    (row,) = pairs
    assert (row.bank_a, row.bank_b) == (a, b)
    assert row.a_earned_from_b == Decimal("5.36") and row.b_earned_from_a == Decimal("1.80")
    assert row.net_to_a == Decimal("3.56")
    credit = {c.bank.code: c for c in per_bank}
    assert credit["bank-a"].net == Decimal("3.56") and credit["bank-b"].net == Decimal("-3.56")


def test_bank_variants_hold_only_the_banks_own_rows(province, traffic):
    a = province.bank_a
    own, flows = selectors.bank_traffic_flows(bank=a, start=D1, end=D2)
    assert own.home and own.out_gmv == Decimal("500.00")
    by = {f.counterpart_code: f for f in flows}
    assert set(by) == {"bank-b", ""}
    assert by["bank-b"].out_gmv == Decimal("268.00") and by["bank-b"].in_gmv == Decimal("90.00")
    assert by["bank-b"].out_fees_earned == Decimal("5.36")
    assert by["bank-b"].in_fees_paid == Decimal("1.80")
    assert by[""].in_gmv == Decimal("45.50") and by[""].out_gmv == 0
    merchants = selectors.bank_merchant_performance(bank=a, start=D1, end=D2)
    ids = {m.merchant_id for m in merchants}
    assert traffic.m_a.pk in ids and traffic.m_b.pk not in ids
    mine = next(m for m in merchants if m.merchant_id == traffic.m_a.pk)
    assert (mine.orders, mine.gmv, mine.cross_bank_orders, mine.cross_bank_gmv) == (
        7, Decimal("635.50"), 2, Decimal("135.50"))
    segments = {s.segment: s for s in selectors.bank_segments(bank=a, start=D1, end=D2)}
    assert segments["villager"].gmv == Decimal("600.00")
    assert segments["enterprise"].orders == 0  # bank B's customers are not here
    assert segments[""].orders == 1
    assert [p.key for p in selectors.top_products(start=D1, end=D2, bank=a)] == [traffic.p_a.pk]
    assert selectors.traffic_funnel(start=D1, end=D2, bank=a)[0].count == 100
    pairs, per_bank = selectors.referral_credit(start=D1, end=D2, bank=province.bank_b)
    assert pairs[0].bank_a == province.bank_b and pairs[0].net_to_a == Decimal("-3.56")
    assert [c.bank for c in per_bank] == [province.bank_b]


def test_compliance_counts_each_banks_private_files(province, traffic):
    a = province.bank_a
    today = datetime.date.today()
    before = {r.bank.code: r for r in selectors.merchant_compliance(today=today)}
    with schema_context(a.schema_name):
        from admission.models import Dossier

        Dossier.objects.filter(merchant_id=traffic.m_a.pk).update(
            next_review_due=today - datetime.timedelta(days=1))
    after = {r.bank.code: r for r in selectors.merchant_compliance(today=today)}
    assert after["bank-a"].overdue_reviews == before["bank-a"].overdue_reviews + 1
    assert after["bank-b"].overdue_reviews == before["bank-b"].overdue_reviews
    assert after["bank-a"].admitted >= 1
    (only_a,) = selectors.merchant_compliance(today=today, bank=a)
    assert only_a.overdue_reviews == after["bank-a"].overdue_reviews


# --- pages and who may see them ----------------------------------------------------------


def page_tables(content: bytes) -> dict[str, list[list[str]]]:
    """The page's tables by key: the header row of column keys, then the cells' text."""
    out = {}
    text = content.decode()
    for key, body in re.findall(r'<table class="tr-table" data-table="([a-z_]+)">(.*?)</table>',
                                text, re.S):
        keys = re.findall(r'data-key="([a-z_]+)"', body)
        rows = [[html.unescape(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
                for tr in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)]
        out[key] = [keys, *[r for r in rows if len(r) == len(keys)]]
    return out


def normal(text: str) -> str:
    """A page's cell as the CSV writes it: no currency sign, grouping or percent sign."""
    text = text.replace("¥", "").replace(",", "").rstrip("%")
    return "" if text == "—" else text


def test_federation_dashboard_shows_every_bank(province, traffic, client_on):
    response = client_on(None, province.fed_admin).get("/federation/traffic/" + QS)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="chart heatmap"' in body and 'class="chart line"' in body
    assert body.count('class="cell"') == 3 * 2  # portal + 2 banks x 2 merchant banks
    tables = page_tables(response.content)
    assert set(tables) == {"storefronts", "pairs", "credit", "credit_banks", "products",
                           "regions", "categories", "funnel", "compliance", "series",
                           "partners", "partner_days"}
    merchants = {row[2] for row in tables["products"][1:]}
    assert {"甲果园流量", "乙蜂场流量"} <= merchants
    # the console links to it
    home = client_on(None, province.fed_admin).get("/federation/").content.decode()
    assert "/federation/traffic/" in home


def test_bank_dashboard_shows_only_the_banks_rows(province, traffic, client_on):
    response = client_on(province.bank_a, province.a_manager).get("/console/traffic/" + QS)
    assert response.status_code == 200
    body = response.content.decode()
    assert "甲果园流量" in body and "乙蜂场流量" not in body
    tables = page_tables(response.content)
    merchants = [row[1] for row in tables["merchants"][1:]]
    assert "甲果园流量" in merchants and "乙蜂场流量" not in merchants
    segments = {row[0]: row for row in tables["segments"][1:]}
    assert segments["villager"][4] == "¥600.00" and segments["enterprise"][3] == "0"
    assert "/console/traffic/" in client_on(province.bank_a, province.a_manager).get(
        "/console/").content.decode()
    b_page = client_on(province.bank_b, province.b_manager).get("/console/traffic/" + QS)
    assert b_page.status_code == 200
    b_body = b_page.content.decode()
    assert "乙蜂场流量" in b_body and "甲果园流量" not in b_body


@pytest.mark.parametrize(("who", "bank", "path", "status"), [
    ("b_admin", "bank_a", "/console/traffic/", 404),  # another bank's staff
    ("shopper", "bank_a", "/console/traffic/", 404),  # not staff
    ("fed_admin", "bank_a", "/console/traffic/", 404),  # not this bank's staff
    ("a_admin", None, "/federation/traffic/", 404),  # bank staff on the portal
    ("shopper", None, "/federation/traffic/", 404),
    (None, None, "/federation/traffic/", 302),  # to the login page
    (None, "bank_a", "/console/traffic/", 302),
])
def test_pages_refuse_whoever_may_not_see_them(province, client_on, who, bank, path, status):
    user = getattr(province, who) if who else None
    host = getattr(province, bank) if bank else None
    assert client_on(host, user).get(path).status_code == status


@pytest.mark.parametrize(("query", "message"), [
    ("?start=yesterday", "YYYY-MM-DD"),
    ("?start=2001-03-05&end=2001-03-01", "must not be after"),
    ("?start=1999-01-01&end=2001-03-01", "at most"),
    ("?start=2001-02-30", "YYYY-MM-DD"),
])
def test_bad_dates_get_a_message_and_no_figures(province, client_on, query, message):
    for client, path in [(client_on(None, province.fed_admin), "/federation/traffic/"),
                         (client_on(province.bank_a, province.a_admin), "/console/traffic/")]:
        response = client.get(path + query, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
        assert message in response.content.decode()
        assert 'data-table="' not in response.content.decode()


def test_unknown_export_or_format_is_refused(province, client_on):
    fed = client_on(None, province.fed_admin)
    assert fed.get("/federation/traffic/?export=nope&format=csv").status_code == 404
    assert fed.get("/federation/traffic/?export=pairs&format=pdf").status_code == 400
    bank = client_on(province.bank_a, province.a_admin)
    assert bank.get("/console/traffic/?export=compliance").status_code == 404  # federation's
    assert bank.get("/console/traffic/?export=merchants&format=doc").status_code == 400


# --- downloads ---------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(response.content)).active
    return [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]


def _same_numbers(page: list[list[str]], export: list[list[str]]) -> None:
    assert export[0] == page[0]
    assert [[normal(c) for c in row] for row in page[1:]] == export[1:]


@pytest.mark.parametrize("where", ["federation", "bank"])
def test_every_table_downloads_with_the_numbers_on_the_page(province, traffic, client_on,
                                                            where):
    if where == "federation":
        client, path = client_on(None, province.fed_admin), "/federation/traffic/"
    else:
        client, path = client_on(province.bank_a, province.a_admin), "/console/traffic/"
    page = page_tables(client.get(path + QS).content)
    assert page
    for key, rows in page.items():
        _same_numbers(rows, read_csv(client.get(f"{path}{QS}&export={key}&format=csv")))
        sheet = read_xlsx(client.get(f"{path}{QS}&export={key}&format=xlsx"))
        assert len(sheet) == len(rows)  # the titles row, then one row per page row
        for page_row, sheet_row in zip(rows[1:], sheet[1:], strict=True):
            for text, value in zip(page_row, sheet_row, strict=True):
                assert same_cell(normal(text), value), (key, page_row, sheet_row)


def same_cell(text: str, value) -> bool:
    if value is None:
        return text == ""
    if isinstance(value, int | float):
        return Decimal(text) == Decimal(str(value))
    return text == str(value)


def test_csv_has_the_exact_figures(province, traffic, client_on):
    client = client_on(None, province.fed_admin)
    rows = read_csv(client.get(f"/federation/traffic/{QS}&export=pairs&format=csv"))
    header, *data = rows
    by = {(r[header.index("storefront_code")], r[header.index("merchant_bank_code")]): r
          for r in data}
    a_to_b = by[("bank-a", "bank-b")]
    assert a_to_b[header.index("gmv")] == "268.00"
    assert a_to_b[header.index("referral_fees")] == "5.36"
    assert a_to_b[header.index("conversion")] == "8.1"
    response = client.get(f"/federation/traffic/{QS}&export=pairs&format=csv")
    assert 'filename="federation-traffic-pairs-20010301-20010302.csv"' in (
        response["Content-Disposition"])


# --- the API -----------------------------------------------------------------------------


def test_federation_api_for_federation_admins_only(province, traffic, api_on):
    api = api_on(None, province.fed_admin)
    response = api.get("/api/v1/federation/traffic/pairs/", RANGE)
    assert response.status_code == 200
    data = response.json()
    assert data["start"] == "2001-03-01" and data["end"] == "2001-03-02"
    a_to_b = next(r for r in data["rows"] if (r["storefront_code"], r["merchant_bank_code"])
                  == ("bank-a", "bank-b"))
    assert a_to_b["gmv"] == "268.00" and a_to_b["orders"] == 3
    assert a_to_b["conversion"] == "8.1"
    portal = next(r for r in data["rows"] if r["storefront_code"] == "")
    assert portal["gmv"] == "45.50"
    for key in ("storefronts", "series", "funnel", "products", "regions", "categories",
                "credit", "credit-banks", "compliance"):
        assert api.get(f"/api/v1/federation/traffic/{key}/", RANGE).status_code == 200, key
    assert api_on(None, province.a_admin).get(
        "/api/v1/federation/traffic/pairs/").status_code == 404
    assert api_on(None).get("/api/v1/federation/traffic/pairs/").status_code in (401, 403)


def test_bank_api_for_the_banks_staff_only(province, traffic, api_on):
    api = api_on(province.bank_a, province.a_manager)
    data = api.get("/api/v1/console/traffic/merchants/", RANGE).json()
    ids = {r["merchant_id"] for r in data["rows"]}
    assert traffic.m_a.pk in ids and traffic.m_b.pk not in ids
    flows = api.get("/api/v1/console/traffic/flows/", RANGE).json()["rows"]
    b = next(r for r in flows if r["counterpart_code"] == "bank-b")
    assert b["out_gmv"] == "268.00" and b["in_fees_paid"] == "1.80"
    for key in ("segments", "series", "funnel", "products", "regions", "credit"):
        assert api.get(f"/api/v1/console/traffic/{key}/", RANGE).status_code == 200, key
    assert api_on(province.bank_a, province.b_admin).get(
        "/api/v1/console/traffic/merchants/").status_code == 404
    assert api_on(province.bank_a, province.shopper).get(
        "/api/v1/console/traffic/merchants/").status_code == 404


def test_each_hosts_schema_lists_its_traffic_endpoints(province, client_on):
    portal = client_on(None).get("/api/v1/schema/?format=json").json()["paths"]
    assert "/api/v1/federation/traffic/pairs/" in portal
    assert "/api/v1/federation/traffic/credit-banks/" in portal
    assert not any(p.startswith("/api/v1/console/traffic/") for p in portal)
    bank = client_on(province.bank_a).get("/api/v1/schema/?format=json").json()["paths"]
    assert "/api/v1/console/traffic/merchants/" in bank
    assert not any(p.startswith("/api/v1/federation/") for p in bank)


def test_api_bad_dates_are_400(province, api_on):
    api = api_on(None, province.fed_admin)
    response = api.get("/api/v1/federation/traffic/pairs/", {"start": "2001-13-01"})
    assert response.status_code == 400 and "start" in response.json()["errors"]
    response = api.get("/api/v1/federation/traffic/pairs/",
                       {"start": "2001-03-05", "end": "2001-03-01"})
    assert response.status_code == 400 and response.json()["message"]
    bank = api_on(province.bank_a, province.a_admin)
    assert bank.get("/api/v1/console/traffic/flows/", {"end": "x"}).status_code == 400


def test_events_rolled_up_by_the_services_reach_both_dashboards(province, client_on,
                                                                api_on):
    """Real events, encoded as the recorder buffers them and written and rolled up by the
    services, show on the federation's page and on each bank's in the right rows."""
    from federation import recorder, services

    a, b = province.bank_a, province.bank_b
    m_b, _ = approved_merchant(b, province.b_manager, name="乙县茶园事件")
    tea = listed_product(m_b, name="乙县绿茶", origin_county="乙县", price="88.00")
    day = datetime.date(2003, 5, 10)
    noon = datetime.datetime(2003, 5, 10, 12, tzinfo=datetime.UTC).timestamp()

    def line(kind, **fields):
        return recorder.encode(kind, at=noon, **{"storefront_bank_id": a.pk,
                                                 "session_hash": "s1", **fields})

    lines = [line("visit"), line("visit", session_hash="s2"),
             line("product_view", product_id=tea.pk),
             line("product_view", product_id=tea.pk, session_hash="s2"),
             line("add_to_cart", product_id=tea.pk, quantity=2),
             line("checkout", product_id=tea.pk, checkout_id=501),
             line("purchase", product_id=tea.pk, order_id=9001, checkout_id=501,
                  quantity=2, amount="176.00", segment="young")]
    rows, rejected = services.resolve(lines)
    assert rejected == 0
    services.write_events(rows)
    services.rollup_day(day)

    cell = selectors.traffic_matrix(start=day, end=day).cell(a, b)
    assert (cell.product_views, cell.add_to_cart, cell.orders, cell.gmv) == (
        2, 1, 1, Decimal("176.00"))
    assert [s.count for s in selectors.traffic_funnel(start=day, end=day)] == [2, 2, 1, 1, 1]
    query = {"start": "2003-05-10", "end": "2003-05-10"}
    data = api_on(None, province.fed_admin).get("/api/v1/federation/traffic/products/",
                                                query).json()
    assert data["rows"][0]["product"] == "乙县绿茶" and data["rows"][0]["gmv"] == "176.00"
    # bank A sent the traffic (out), bank B's merchant got it (in)
    out_a = api_on(a, province.a_admin).get("/api/v1/console/traffic/flows/", query).json()
    assert next(r for r in out_a["rows"] if r["counterpart_code"] == "bank-b")["out_gmv"] \
        == "176.00"
    segments = api_on(a, province.a_admin).get("/api/v1/console/traffic/segments/",
                                               query).json()["rows"]
    assert next(r for r in segments if r["segment_key"] == "young")["gmv"] == "176.00"
    merchants_b = api_on(b, province.b_admin).get("/api/v1/console/traffic/merchants/",
                                                  query).json()["rows"]
    tea_row = next(r for r in merchants_b if r["merchant_id"] == m_b.pk)
    assert tea_row["cross_bank_gmv"] == "176.00" and tea_row["product_views"] == 2
    page = client_on(a, province.a_admin).get("/console/traffic/?start=2003-05-10"
                                              "&end=2003-05-10").content.decode()
    assert "乙县茶园事件" not in page  # bank B's merchant is not on bank A's page
