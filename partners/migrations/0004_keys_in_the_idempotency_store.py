"""Partner orders' Idempotency-Keys move into the one idempotency store (core.idempotency)."""

from django.db import migrations


def keys_to_store(apps, schema_editor):
    PartnerOrder = apps.get_model("partners", "PartnerOrder")
    IdempotencyKey = apps.get_model("core", "IdempotencyKey")
    rows = PartnerOrder.objects.values_list("pk", "partner_id", "idempotency_key",
                                            "fingerprint", "created_at").order_by("pk")
    IdempotencyKey.objects.bulk_create(
        [IdempotencyKey(scope="partner_order", owner=f"partner:{partner}", key=key,
                        fingerprint=fingerprint, target_id=pk, created_at=at)
         for pk, partner, key, fingerprint, at in rows.iterator(chunk_size=2000)],
        batch_size=2000, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0001_initial'),
        ('partners', '0003_trail_in_bank_events'),
    ]

    operations = [
        migrations.RunPython(keys_to_store, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='partnerorder',
            name='partners_order_key_once',
        ),
        migrations.RemoveField(
            model_name='partnerorder',
            name='fingerprint',
        ),
        migrations.RemoveField(
            model_name='partnerorder',
            name='idempotency_key',
        ),
    ]
