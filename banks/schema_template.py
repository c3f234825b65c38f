"""The template a new bank's schema is cloned from.

Migrating a new schema from nothing renders Django's model state once per migration
(about a hundred of them, every app's, since a bank's schema records them all), which
took 6-10 s a bank. Instead a template schema, ``settings.BANK_SCHEMA_TEMPLATE``, is kept
at the latest migrations, and a new bank's schema is copied from it by ``clone_into``:
the schema's functions, tables (columns, defaults, identity), then primary key,
unique, check and exclusion constraints by their names, the rows the migrations wrote
(``django_migrations``, content types), foreign keys, other indexes by their names,
views, triggers (the points ledger's append-only guard is one), and the identity
sequences moved past the copied rows. A template holding any other kind of object (a
standalone sequence, a materialised view, a type...) is not copied: the schema is then
migrated from nothing, as before. ``tests/test_tenancy.py`` holds a cloned schema equal
to one migrated from nothing (every column, constraint, index, function, trigger, view,
relation and migration row). (django-tenants' own clone function lost unique
constraints on this PostgreSQL, so it is not used.)

The template is made on the first onboarding and brought up to date whenever the code has
migrations it has not applied (``migrate_schemas`` after a deploy migrates the banks, not
the template: the next onboarding catches the template up first). It is never a bank: no
``Bank`` row names it, nothing is written to it but migrations, and requests never reach it.
"""

from __future__ import annotations

import io
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import schema_exists

# pg_advisory_xact_lock key: one template maker at a time
_LOCK = 0x62616E6B  # "bank"


IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def template_name() -> str:
    """The template's schema name from the settings: a plain identifier (it is quoted
    into SQL below), or "" for none (every schema is then migrated from nothing)."""
    name = getattr(settings, "BANK_SCHEMA_TEMPLATE", "") or ""
    if name and not IDENTIFIER.fullmatch(name):
        raise ImproperlyConfigured("BANK_SCHEMA_TEMPLATE must be a lower-case identifier.")
    return name


def _applied(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cur:
        cur.execute(f'SELECT app, name FROM "{schema}".django_migrations')  # noqa: S608
        return set(cur.fetchall())


def template_current() -> bool:
    """True when the template exists and has applied every migration the code has."""
    schema = template_name()
    if not schema or not schema_exists(schema):
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", [f'"{schema}".django_migrations'])
        if cur.fetchone()[0] is None:
            return False
    wanted = set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)
    return wanted <= _applied(schema)


def template_ensure() -> bool:
    """Make the template, or bring it up to date, inside the caller's transaction (one
    maker at a time). Returns True when it had to migrate."""
    schema = template_name()
    if not schema:
        return False
    connection.set_schema_to_public()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
    if template_current():
        return False
    if not schema_exists(schema):
        with connection.cursor() as cur:
            cur.execute(f'CREATE SCHEMA "{schema}"')
    call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False,
                 verbosity=0, stdout=io.StringIO())
    connection.set_schema_to_public()
    return True


def _rows(sql: str, params) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _run(statements: list[str]) -> None:
    with connection.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


def clone_into(schema: str) -> bool:
    """Create ``schema`` as a copy of the template, if the template is current (else
    False: the caller migrates from nothing). Inside the caller's transaction."""
    template = template_name()
    if not template or not IDENTIFIER.fullmatch(schema) or not template_current():
        return False
    connection.set_schema_to_public()  # public tables referenced unqualified stay public
    src, dst = f'"{template}"', f'"{schema}"'

    def moved(definition: str) -> str:
        return definition.replace(f"{src}.", f"{dst}.").replace(f"{template}.", f"{dst}.")

    tables = [t for (t,) in _rows(
        "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
        "AND relkind = 'r' ORDER BY relname", [template])]
    constraints = _rows(
        "SELECT cl.relname, co.conname, co.contype, pg_get_constraintdef(co.oid) "
        "FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid "
        "WHERE co.connamespace = %s::regnamespace AND co.contype IN ('p','u','c','x','f') "
        "ORDER BY cl.relname, co.conname", [template])
    functions = _rows(
        "SELECT pg_get_functiondef(p.oid) FROM pg_proc p "
        "WHERE p.pronamespace = %s::regnamespace ORDER BY p.proname", [template])
    views = _rows(
        "SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c "
        "WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'v' ORDER BY c.relname",
        [template])
    triggers = _rows(
        "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = %s::regnamespace AND NOT t.tgisinternal ORDER BY t.tgname",
        [template])
    others = _rows(  # identity sequences come with their tables; any other is "other"
        "SELECT c.relkind, c.relname FROM pg_class c WHERE c.relnamespace = %s::regnamespace "
        "AND c.relkind NOT IN ('r', 'i', 'v') AND NOT (c.relkind = 'S' AND EXISTS ("
        "SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')) "
        "ORDER BY c.relname", [template])
    if others:  # a kind of object this copy does not know: migrate from nothing instead
        return False
    indexes = _rows(
        "SELECT i.indexdef FROM pg_indexes i WHERE i.schemaname = %s AND NOT EXISTS ("
        "SELECT 1 FROM pg_constraint co WHERE co.conindid = "
        "(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass) "
        "ORDER BY i.indexname", [template])
    columns: dict[str, list[str]] = {}
    identities: list[tuple[str, str]] = []
    for table, column, generated, identity in _rows(
            "SELECT table_name, column_name, is_generated, is_identity "
            "FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position", [template]):
        if generated == "NEVER":
            columns.setdefault(table, []).append(f'"{column}"')
        if identity == "YES":
            identities.append((table, column))

    statements = [f"CREATE SCHEMA {dst}"]
    statements += [moved(definition) for (definition,) in functions]
    statements += [f'CREATE TABLE {dst}."{t}" (LIKE {src}."{t}" INCLUDING DEFAULTS '
                   f"INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE "
                   f"INCLUDING COMPRESSION)" for t in tables]
    statements += [f'ALTER TABLE {dst}."{t}" ADD CONSTRAINT "{name}" {moved(d)}'
                   for t, name, kind, d in constraints if kind != "f"]
    for t in tables:
        cols = ", ".join(columns.get(t, []))
        statements.append(f'INSERT INTO {dst}."{t}" ({cols}) OVERRIDING SYSTEM VALUE '  # noqa: S608 - names from the catalog
                          f'SELECT {cols} FROM {src}."{t}"')
    statements += [f'ALTER TABLE {dst}."{t}" ADD CONSTRAINT "{name}" {moved(d)}'
                   for t, name, kind, d in constraints if kind == "f"]
    statements += [moved(indexdef) for (indexdef,) in indexes]
    statements += [f'CREATE VIEW {dst}."{name}" AS {moved(d)}' for name, d in views]
    statements += [moved(definition) for (definition,) in triggers]
    statements += [
        f"SELECT setval(pg_get_serial_sequence('{dst}.\"{t}\"', '{c}'), "  # noqa: S608
        f'COALESCE((SELECT max("{c}") FROM {dst}."{t}"), 0) + 1, false)'
        for t, c in identities]
    _run(statements)
    return True
