"""docs/operations.md maps every foreign key from a bank's schema into shared tables for
Citus; this test keeps that table honest."""

import re
from pathlib import Path

from django.apps import apps
from django.conf import settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def documented() -> set[str]:
    rows = set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`([a-z_]+\.[A-Za-z]+\.[a-z_]+)`\s*\|\s*exists\s*\|", line)
        if match:
            rows.add(match.group(1))
    return rows


def actual() -> set[str]:
    tenant = {a.rsplit(".", 1)[-1] for a in settings.PLATFORM_TENANT}
    shared = {a.rsplit(".", 1)[-1] for a in settings.SHARED_APPS}
    found = set()
    for model in apps.get_models():
        if model._meta.app_label not in tenant:
            continue
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model is not None and \
                    field.related_model._meta.app_label in shared | {"accounts", "auth"}:
                found.add(f"{model._meta.app_label}.{model.__name__}.{field.name}")
    return found


def test_every_tenant_to_shared_foreign_key_is_in_the_citus_table():
    assert actual() - documented() == set()
    assert documented() - actual() == set()  # and nothing stale is listed as existing
