from celery import shared_task
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from banks.models import Bank
from rewards.selectors import programme_current
from rewards.services import points_earn_sweep, points_expire, redemption_payments_reconcile


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


def _bank():
    return Bank.objects.get(schema_name=connection.schema_name)


@shared_task(name="rewards.tasks.bank_points_daily")
def bank_points_daily() -> dict:
    """In the bank's schema: expire what is past its date, earn what the signal missed."""
    bank = _bank()
    return {"expired": points_expire(bank=bank), "earned": points_earn_sweep(bank=bank)}


@shared_task(name="rewards.tasks.points_daily_all_banks")
def points_daily_all_banks() -> int:
    count = 0
    for bank in Bank.objects.filter(is_active=True).only("schema_name"):
        with schema_context(bank.schema_name):
            bank_points_daily.delay()
        count += 1
    return count


@shared_task(name="rewards.tasks.reconcile_bank_cash_payments")
def reconcile_bank_cash_payments() -> int:
    """In the bank's schema: points-mall cash payments whose gateway answer was lost."""
    return redemption_payments_reconcile(bank=_bank())


@shared_task(name="rewards.tasks.reconcile_cash_all_banks")
def reconcile_cash_all_banks() -> int:
    """Every few minutes: each bank's points-mall cash payments still open."""
    count = 0
    for bank in Bank.objects.filter(is_active=True).only("schema_name"):
        with schema_context(bank.schema_name):
            reconcile_bank_cash_payments.delay()
        count += 1
    return count
