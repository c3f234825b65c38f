"""The points mall's cash payments' client keys move into the one idempotency store
(core.idempotency, in the public schema): each bank's schema writes its own, owned by the
bank and the member."""

from django.db import connection, migrations


def keys_to_store(apps, schema_editor):
    RedemptionPayment = apps.get_model("rewards", "RedemptionPayment")
    IdempotencyKey = apps.get_model("core", "IdempotencyKey")
    Bank = apps.get_model("banks", "Bank")
    bank = Bank.objects.filter(schema_name=connection.schema_name).first()
    if bank is None:  # the public schema or a template: no bank's payments
        return
    rows = (RedemptionPayment.objects.exclude(client_key="")
            .values_list("pk", "client_key", "fingerprint", "redemption__user_id", "at")
            .order_by("pk"))
    IdempotencyKey.objects.bulk_create(
        [IdempotencyKey(scope="points_pay", owner=f"bank:{bank.pk}/user:{user}", key=key,
                        fingerprint=fingerprint, target_id=pk, created_at=at)
         for pk, key, fingerprint, user, at in rows.iterator(chunk_size=2000)],
        batch_size=2000, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ('banks', '0004_bank_requires_passing_lab_report'),
        ('core', '0001_initial'),
        ('rewards', '0004_redemption_payment'),
    ]

    operations = [
        migrations.RunPython(keys_to_store, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='redemptionpayment',
            name='rewards_payment_client_key_once',
        ),
        migrations.RemoveField(
            model_name='redemptionpayment',
            name='client_key',
        ),
        migrations.RemoveField(
            model_name='redemptionpayment',
            name='fingerprint',
        ),
    ]
