from celery import shared_task
from django.db import connection
from django_tenants.utils import get_public_schema_name

from rewards.selectors import programme_current


@shared_task(name="rewards.tasks.describe_programme")
def describe_programme() -> dict:
    """Report the points programme of the schema the task runs in.

    Queued inside a bank's schema, tenant-schemas-celery runs it in that schema; the
    tests use it to prove that a real worker keeps banks apart. The federation (public
    schema) has no points programme.
    """
    schema = connection.schema_name
    if schema == get_public_schema_name():
        return {"schema": schema, "programme": None}
    programme = programme_current()
    return {"schema": schema, "programme": programme.name if programme else None}
