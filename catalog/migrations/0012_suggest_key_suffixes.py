"""Suggestion keys from every boundary of a name, with the ranking columns copied in.

The keys are derived data: the table is dropped and made again empty; run
``manage.py search_reindex`` after migrating (docs/operations.md)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('banks', '0002_bank_requires_listing_review'),
        ('catalog', '0011_sku_in_warehouse'),
    ]

    operations = [
        migrations.DeleteModel(name='SuggestKey'),
        migrations.CreateModel(
            name='SuggestKey',
            fields=[
                ('pk', models.CompositePrimaryKey('product_id', 'key', blank=True, editable=False, primary_key=True, serialize=False)),
                ('product', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='catalog.product')),
                ('key', models.CharField(max_length=120)),
                ('bank', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='banks.bank')),
                ('sales_count', models.PositiveIntegerField(default=0)),
                ('at_start', models.BooleanField(default=False)),
            ],
            options={
                'indexes': [models.Index(fields=['key'], include=('sales_count', 'bank', 'at_start', 'product'), name='catalog_suggestkey_prefix', opclasses=['varchar_pattern_ops'])],
            },
        ),
    ]
