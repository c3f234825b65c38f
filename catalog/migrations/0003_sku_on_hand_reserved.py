"""A SKU's stock splits into what is on the shelf (``on_hand``) and what of it is held
for orders not yet sent (``reserved``); ``stock`` (what can still be sold) becomes
``on_hand - reserved``, computed by the database.

Until now ``stock`` already had the held units taken off, so the old figure becomes
``on_hand`` with nothing reserved; orders.0004 then adds the units of open checkouts and
paid orders not yet sent to both, which leaves ``stock`` unchanged."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0002_product_catalog_product_own_order'),
    ]

    operations = [
        migrations.RemoveConstraint(model_name='sku', name='catalog_sku_stock_nonneg'),
        migrations.RenameField(model_name='sku', old_name='stock', new_name='on_hand'),
        migrations.AlterField(
            model_name='sku', name='on_hand',
            field=models.IntegerField(default=0, verbose_name='on hand'),
        ),
        migrations.AddField(
            model_name='sku', name='reserved',
            field=models.IntegerField(default=0, verbose_name='reserved'),
        ),
        migrations.AddField(
            model_name='sku', name='stock',
            field=models.GeneratedField(db_persist=True,
                                        expression=models.F('on_hand') - models.F('reserved'),
                                        output_field=models.IntegerField(),
                                        verbose_name='available'),
        ),
        migrations.AddConstraint(
            model_name='sku',
            constraint=models.CheckConstraint(
                condition=models.Q(('reserved__gte', 0), ('reserved__lte', models.F('on_hand'))),
                name='catalog_sku_reserved_within_on_hand'),
        ),
    ]
