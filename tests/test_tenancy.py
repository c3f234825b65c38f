"""Tenancy: schemas per bank, routing by host, unknown hosts, the app split."""

import re

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django_tenants.signals import schema_pre_migration
from django_tenants.utils import schema_context, schema_exists

from banks import migration_executor, schema_template
from banks.models import Bank

pytestmark = pytest.mark.django_db


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    [schema])
        return {row[0] for row in cur.fetchall()}


def test_each_bank_has_its_own_schema_with_the_tenant_apps(province):
    for bank in (province.bank_a, province.bank_b):
        assert schema_exists(bank.schema_name)
        tables = tables_in(bank.schema_name)
        assert "rewards_pointsprogramme" in tables
        # shared tables live only in the public schema
        assert "banks_bank" not in tables
        assert "accounts_user" not in tables
    public = tables_in("public")
    assert {"banks_bank", "banks_domain", "accounts_user"} <= public
    assert "rewards_pointsprogramme" not in public


def test_a_banks_private_rows_are_invisible_from_another_bank(province):
    from rewards.models import PointsProgramme

    with schema_context(province.bank_a.schema_name):
        names_a = list(PointsProgramme.objects.values_list("name", flat=True))
    with schema_context(province.bank_b.schema_name):
        names_b = list(PointsProgramme.objects.values_list("name", flat=True))
    assert names_a == ["甲农商行积分"]
    assert names_b == ["乙农商行积分"]


def test_storefront_answers_on_the_banks_domain_with_its_name_and_branches(province,
                                                                            client_on):
    response = client_on(province.bank_a).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "甲县农村商业银行" in html
    assert "甲农商行营业部" in html and "甲县城东支行" in html
    assert "乙农商行营业部" not in html  # bank B's branch


def test_portal_lists_every_member_bank_with_a_link_to_its_storefront(province, client_on):
    response = client_on(None).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "甲县农村商业银行" in html and "乙县农村商业银行" in html
    assert 'href="http://bank-a.localhost/"' in html
    assert 'href="http://bank-b.localhost/"' in html


@pytest.mark.parametrize("path", ["/", "/console/", "/api/v1/storefront/", "/healthz",
                                  "/accounts/login/"])
def test_unknown_host_gets_a_404_page_never_a_500(province, client_on, path):
    from django.test import Client

    response = Client(HTTP_HOST="no-such-bank.localhost").get(path)
    assert response.status_code == 404
    assert "no-such-bank.localhost" in response.content.decode()
    assert response["Content-Type"].startswith("text/html")


def test_unknown_host_page_is_in_chinese_by_default(province):
    from django.test import Client

    html = Client(HTTP_HOST="nowhere.example.com").get("/").content.decode()
    assert "找不到" in html or "没有" in html


def test_an_inactive_bank_is_not_served(province, client_on):
    assert client_on(province.bank_b).get("/").status_code == 200
    bank = Bank.objects.get(pk=province.bank_b.pk)
    bank.is_active = False
    bank.save()  # clears this process's host cache at once
    assert client_on(province.bank_b).get("/").status_code == 404


def test_host_lookups_are_cached_per_process(province):
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from banks.middleware import BankRoutingMiddleware, clear_host_cache

    def route():
        request = RequestFactory(HTTP_HOST="bank-a.localhost").get("/")
        with CaptureQueriesContext(connection) as ctx:
            BankRoutingMiddleware(lambda r: None).process_request(request)
        assert request.bank == province.bank_a
        return len(ctx.captured_queries)

    clear_host_cache()
    assert route() >= 1   # looked up
    assert route() == 0   # from the cache


def test_unknown_path_on_a_bank_is_a_404_page(province, client_on):
    response = client_on(province.bank_a).get("/no/such/page/")
    assert response.status_code == 404


def test_healthz_reports_database_redis_and_worker_as_json(province, client_on):
    for bank in (None, province.bank_a):
        response = client_on(bank).get("/healthz")
        body = response.json()
        assert body["database"] == {"ok": True}
        assert body["redis"] == {"ok": True}
        assert "ok" in body["worker"]
        assert body["host"] == ("portal" if bank is None else "bank-a")
        assert response.status_code == (200 if body["ok"] else 503)


def test_cache_keys_are_per_bank(province):
    with schema_context(province.bank_a.schema_name):
        cache.set("storefront-banner", "A's banner", 30)
    with schema_context(province.bank_b.schema_name):
        assert cache.get("storefront-banner") is None
    with schema_context(province.bank_a.schema_name):
        assert cache.get("storefront-banner") == "A's banner"
        cache.delete("storefront-banner")


def test_system_check_agrees_with_the_app_split():
    from core.checks import check_app_scopes

    assert check_app_scopes() == []
    call_command("check")  # raises SystemCheckError on any error


def test_system_check_refuses_an_app_in_the_wrong_schema(settings):
    from core.checks import check_app_scopes

    settings.SHARED_APPS = [a for a in settings.SHARED_APPS if a != "catalog"]
    settings.TENANT_APPS = [*settings.TENANT_APPS, "catalog"]
    ids = {e.id for e in check_app_scopes()}
    assert "core.E003" in ids


STRUCTURE = """
SELECT 'column', table_name, column_name,
       data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = %(s)s
UNION ALL
SELECT 'constraint', cl.relname, co.conname, pg_get_constraintdef(co.oid)
  FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
 WHERE co.connamespace = %(s)s::regnamespace
UNION ALL
SELECT 'index', tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s
UNION ALL
SELECT 'function', proname, '', pg_get_functiondef(oid)
  FROM pg_proc WHERE pronamespace = %(s)s::regnamespace
UNION ALL
SELECT 'trigger', c.relname, t.tgname, pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = %(s)s::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'relation', relkind::text, relname, ''
  FROM pg_class WHERE relnamespace = %(s)s::regnamespace
UNION ALL
SELECT 'view', relname, '', pg_get_viewdef(oid)
  FROM pg_class WHERE relnamespace = %(s)s::regnamespace AND relkind = 'v'
UNION ALL
SELECT 'migration', app, name, '' FROM {schema}.django_migrations
"""


CASTS = re.compile(r"::(text\[\]|text|character varying)|[()\s]")


def structure(schema: str) -> set[tuple[str, ...]]:
    """Every column, constraint, index and migration row of ``schema``, its own name
    replaced by S; expressions without casts, brackets and spaces (PostgreSQL prints a
    re-parsed ``IN`` list with its casts in other places, meaning the same)."""
    with connection.cursor() as cur:
        cur.execute(STRUCTURE.format(schema=f'"{schema}"'), {"s": schema})
        return {tuple(CASTS.sub("", str(v).replace(f'"{schema}".', "S.")
                                .replace(f"{schema}.", "S.")) for v in row)
                for row in cur.fetchall()}


def test_a_bank_cloned_from_the_template_equals_one_migrated_from_nothing(province):
    """Banks are made by cloning the template schema (banks.schema_template); a schema
    migrated from nothing must come out the same: every column, constraint (foreign keys
    to the public schema still to the public schema), index, function, trigger, view,
    sequence and migration row."""
    assert schema_template.template_current()
    cloned = structure(province.bank_a.schema_name)
    template = structure(schema_template.template_name())
    assert sorted(template - cloned)[:10] == [] and sorted(cloned - template)[:10] == []
    with connection.cursor() as cur:
        cur.execute('CREATE SCHEMA "t_from_nothing"')
    call_command("migrate_schemas", tenant=True, schema_name="t_from_nothing",
                 interactive=False, verbosity=0)
    connection.set_schema_to_public()
    fresh = structure("t_from_nothing")
    assert sorted(fresh - cloned)[:10] == [] and sorted(cloned - fresh)[:10] == []
    assert any(kind == "constraint" and "REFERENCESaccounts_user" in d.replace("public.", "")
               for kind, _t, _n, d in cloned)  # to the public schema's table
    assert not any("tenant_template" in " ".join(row) for row in cloned)
    assert ("trigger", "rewards_pointsentry", "rewards_pointsentry_append_only") in {
        row[:3] for row in cloned}


def test_migrate_schemas_leaves_up_to_date_banks_alone_and_migrates_one_behind(province):
    """A deploy without new migrations does not run Django's migrate in each bank schema
    (banks.migration_executor); a schema missing a migration row is still migrated."""
    banks = list(Bank.objects.exclude(schema_name="public").values_list("schema_name",
                                                                        flat=True))
    assert banks and migration_executor.up_to_date(banks) == set(banks)
    ran: list[str] = []

    def note(sender, schema_name, **kwargs):
        ran.append(schema_name)

    schema_pre_migration.connect(note)
    try:
        call_command("migrate_schemas", interactive=False, verbosity=0)
        assert ran == ["public"]
        behind = province.bank_a.schema_name
        with connection.cursor() as cur:  # a shared app's: a no-op in a bank schema
            cur.execute(f'DELETE FROM "{behind}".django_migrations WHERE id = '
                        f'(SELECT max(id) FROM "{behind}".django_migrations '
                        "WHERE app = 'catalog') RETURNING name")
            assert cur.fetchone()
        connection.set_schema_to_public()
        assert behind not in migration_executor.up_to_date(banks)
        ran.clear()
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
        assert ran == [behind]
        assert migration_executor.up_to_date(banks) == set(banks)
    finally:
        schema_pre_migration.disconnect(note)
        connection.set_schema_to_public()
