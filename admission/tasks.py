from celery import shared_task
from django_tenants.utils import schema_context

from admission.services import flags_scan
from banks.models import Bank


@shared_task(name="admission.tasks.scan_bank_flags")
def scan_bank_flags() -> dict:
    """Runs in the schema of the bank it was queued for (tenant-schemas-celery)."""
    return flags_scan()


@shared_task(name="admission.tasks.scan_all_banks")
def scan_all_banks() -> int:
    """Daily: queue one flag scan per active bank, each inside that bank's schema."""
    count = 0
    for bank in Bank.objects.filter(is_active=True).only("schema_name"):
        with schema_context(bank.schema_name):
            scan_bank_flags.delay()
        count += 1
    return count
