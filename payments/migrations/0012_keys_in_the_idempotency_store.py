"""Checkout payments' client keys move into the one idempotency store (core.idempotency):
each payment's key and fingerprint become a record of its buyer; new payments' own keys
are the client's key as its buyer sent it."""

from django.db import migrations, models


def keys_to_store(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    IdempotencyKey = apps.get_model("core", "IdempotencyKey")
    rows = (Payment.objects.values_list("pk", "idempotency_key", "fingerprint",
                                        "checkout__buyer_id", "created_at").order_by("pk"))
    IdempotencyKey.objects.bulk_create(
        [IdempotencyKey(scope="checkout_pay", owner=f"user:{buyer}", key=key[:80],
                        fingerprint=fingerprint, target_id=pk, created_at=at)
         for pk, key, fingerprint, buyer, at in rows.iterator(chunk_size=2000)],
        batch_size=2000, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
        ('payments', '0011_settlementhold'),
    ]

    operations = [
        migrations.RunPython(keys_to_store, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='payment',
            name='fingerprint',
        ),
        migrations.AlterField(
            model_name='payment',
            name='idempotency_key',
            field=models.CharField(max_length=100, unique=True),
        ),
    ]
