"""One `SET search_path` per request (TENANT_LIMIT_SET_CALLS), and never a stale one:
after a rollback to a savepoint, PostgreSQL has undone a `SET` made after the savepoint
while django-tenants would still believe it in place; the backend forgets its cached
search path on every rollback, so the next statement sets it again."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.orders_factories import market

pytestmark = pytest.mark.django_db


def _probe(schema: str, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{schema}".search_path_probe (v text)')
        cursor.execute(f'INSERT INTO "{schema}".search_path_probe VALUES (%s)', [value])


def _read() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT v FROM search_path_probe")
        return cursor.fetchone()[0]


class Undo(Exception):
    pass


def _on_a_after_an_undone_switch_to_b(province) -> tuple[str, str]:
    """Both banks' schemas with a probe table; the connection on a, then switched to b
    inside a savepoint that is rolled back (PostgreSQL's search_path is a's again)."""
    a, b = province.bank_a.schema_name, province.bank_b.schema_name
    _probe(a, "a")
    _probe(b, "b")
    connection.set_schema(a)
    assert _read() == "a"

    def switch_then_fail():
        with transaction.atomic():  # a savepoint in the test's transaction
            connection.set_schema(b)
            assert _read() == "b"
            raise Undo  # ROLLBACK TO SAVEPOINT

    with pytest.raises(Undo):
        switch_then_fail()
    return a, b


def test_a_limited_set_calls_are_on():
    assert settings.TENANT_LIMIT_SET_CALLS is True


def test_b_a_schema_switched_in_a_rolled_back_savepoint_is_set_again(province):
    a, b = _on_a_after_an_undone_switch_to_b(province)
    assert connection.schema_name == b
    assert _read() == "b"  # set again, not the stale a

    with CaptureQueriesContext(connection) as queries:
        assert _read() == "b"
        assert _read() == "b"
    assert not [q for q in queries if q["sql"].startswith("SET search_path")]  # cached

    # And back: schema a set inside a savepoint that is kept (released) stays a.
    with transaction.atomic():
        connection.set_schema(a)
        assert _read() == "a"
    assert _read() == "a"
    connection.set_schema_to_public()


def test_c_a_storefront_request_sets_the_search_path_once(client_on, province):
    shop = market(province)
    client = client_on(province.bank_a, province.shopper)
    client.get("/")  # warm: sessions, host cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/p/{shop.sku_a.product_id}/")
    assert response.status_code == 200
    sets = [q["sql"] for q in queries if q["sql"].startswith("SET search_path")]
    assert len(sets) <= 1, sets


def test_d_a_second_request_on_the_same_bank_sends_no_set(client_on, province):
    """The server keeps the bank's search path between requests on a persistent
    connection: the second request's statements need no SET."""
    shop = market(province)
    client = client_on(province.bank_a, province.shopper)
    client.get(f"/p/{shop.sku_a.product_id}/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/p/{shop.sku_a.product_id}/").status_code == 200
    assert queries.captured_queries  # the page did read the database
    assert not [q for q in queries if q["sql"].startswith("SET search_path")]

    # Another bank's host needs its own path; and back, the first one's again.
    other = client_on(province.bank_b, province.shopper)
    other.get("/")  # warm: its host
    client.get("/")
    for bank_client, schema in ((other, province.bank_b.schema_name),
                                (client, province.bank_a.schema_name)):
        with CaptureQueriesContext(connection) as queries:
            bank_client.get("/")
        sets = [q["sql"] for q in queries if q["sql"].startswith("SET search_path")]
        assert len(sets) == 1 and f'"{schema}"' in sets[0], sets


def test_e_a_path_the_rollback_undid_is_set_again(province):
    """A SET made inside a savepoint that is rolled back is gone from the server: the next
    statement on that schema sets it again when the schema is chosen anew."""
    a, b = _on_a_after_an_undone_switch_to_b(province)
    connection.set_schema(b)  # again, as the next request on b's host would
    assert _read() == "b"  # the backend must not believe the server is still on b
    connection.set_schema(a)
    assert _read() == "a"
    connection.set_schema_to_public()
