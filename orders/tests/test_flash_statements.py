"""How many SQL statements a flash buy costs (the hot path of a stampede), counted on the
real database so that a regression shows; no timing.

A refusal that the sale's Redis copy can decide (sold out, over the cap, a quantity over
the cap, ended) runs no SQL at all beyond the caller's authentication, and answers as the
database path does; a win reads the sale once, writes its rows and reads the checkout back
in three statements."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import user_register
from orders import flash
from orders.models import FlashSale
from tests import unique
from tests.orders_factories import ADDRESS
from tests.test_flash_sales import db_state, flash_sale, shop  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT",
           "ROLLBACK", "SET search_path")


def buy(api, sale, quantity=1):
    with CaptureQueriesContext(connection) as ctx:
        response = api.post(f"/api/v1/flash-sales/{sale.pk}/buy/",
                            {"quantity": quantity, "delivery": ADDRESS.__dict__},
                            format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    return response, [q["sql"] for q in ctx.captured_queries
                      if not q["sql"].startswith(CONTROL)]


def buyer():
    return user_register(username=f"flash-{unique.tag()}", password="Test@pass-2026")


@pytest.fixture
def sale(shop):  # noqa: F811
    return flash_sale(shop, quantity=2, limit=2)


def test_a_win_is_one_read_the_writes_and_three_reads_back(api_on, province, sale):
    first, _sql = buy(api_on(province.bank_a, buyer()), sale)   # builds the Redis copy
    assert first.status_code == 201
    response, sql = buy(api_on(province.bank_a, buyer()), sale)
    assert response.status_code == 201, response.json()
    reads = [s for s in sql if s.startswith("SELECT")]
    writes = [s for s in sql if not s.startswith("SELECT")]
    # the sale with everything the checkout needs; then the checkout, its orders (with
    # their banks and branch) and its lines for the answer
    assert len(reads) == 4, reads
    assert [r.split(" FROM ")[1].split()[0] for r in reads[1:]] == [
        '"orders_checkout"', '"orders_order"', '"orders_orderline"']
    # checkout, order, line, "placed" event, take (row and units), sale sold, SKU reserved
    assert len(writes) == 8, writes
    left, takes = db_state(sale)
    assert left == 0 and sorted(takes.values()) == [1, 1]


@pytest.mark.parametrize("case", ["sold_out", "over_cap", "over_cap_at_once", "ended"])
def test_a_refusal_the_copy_can_decide_runs_no_sql(api_on, province, sale, case):
    holder = buyer()
    api = api_on(province.bank_a, holder)
    won, _sql = buy(api, sale, 2 if case in ("sold_out", "over_cap") else 1)
    assert won.status_code == 201
    expected = {"sold_out": "已抢光", "over_cap": "每人限购 2", "over_cap_at_once": "每人限购 2",
                "ended": "已结束"}[case]
    if case == "sold_out":
        api = api_on(province.bank_a, buyer())
    if case == "ended":   # the copy knows when the sale ends
        later = timezone.now() + timedelta(hours=2)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(timezone, "now", lambda: later)
            response, sql = buy(api, sale, 1)
    else:
        response, sql = buy(api, sale, 3 if case == "over_cap_at_once" else 1)
    assert response.status_code == 400
    assert expected in response.json()["message"], response.json()
    assert sql == []


def test_without_a_copy_the_database_decides_and_answers_the_same(api_on, province, sale):
    holder = buyer()
    api = api_on(province.bank_a, holder)
    assert buy(api, sale, 2)[0].status_code == 201
    by_copy, sql = buy(api, sale, 1)
    assert sql == []
    flash.forget(sale.pk)   # Redis lost it: the database path answers
    by_database, sql = buy(api, sale, 1)
    assert sql, "the database path"
    assert by_database.status_code == by_copy.status_code == 400
    assert by_database.json() == by_copy.json()


def test_the_copy_carries_what_a_refusal_says(api_on, province, sale):
    assert buy(api_on(province.bank_a, buyer()), sale)[0].status_code == 201
    seen = flash.peek(sale_id=sale.pk, user_id=0)
    row = FlashSale.objects.get(pk=sale.pk)
    assert (seen.title, seen.cap, seen.left) == (row.title, row.per_customer_limit, 1)
    assert (seen.starts, seen.ends) == (row.starts_at.timestamp(), row.ends_at.timestamp())
