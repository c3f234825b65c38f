"""Card repayments' client keys move into the one idempotency store (core.idempotency, in
the public schema): each bank's schema writes its own, owned by the bank and the payer."""

from django.db import connection, migrations


def keys_to_store(apps, schema_editor):
    LoanRepayment = apps.get_model("lending", "LoanRepayment")
    IdempotencyKey = apps.get_model("core", "IdempotencyKey")
    Bank = apps.get_model("banks", "Bank")
    bank = Bank.objects.filter(schema_name=connection.schema_name).first()
    if bank is None:  # the public schema or a template: no bank's repayments
        return
    rows = (LoanRepayment.objects.filter(idempotency_key__startswith="card:")
            .values_list("pk", "idempotency_key", "fingerprint", "actor_id", "at")
            .order_by("pk"))
    IdempotencyKey.objects.bulk_create(
        [IdempotencyKey(scope="loan_repay", owner=f"bank:{bank.pk}/user:{actor}",
                        key=key.removeprefix("card:"), fingerprint=fingerprint,
                        target_id=pk, created_at=at)
         for pk, key, fingerprint, actor, at in rows.iterator(chunk_size=2000)
         if actor is not None],
        batch_size=2000, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('banks', '0004_bank_requires_passing_lab_report'),
        ('core', '0001_initial'),
        ('lending', '0005_repayment_status_choices'),
    ]

    operations = [
        migrations.RunPython(keys_to_store, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='loanrepayment',
            name='fingerprint',
        ),
    ]
