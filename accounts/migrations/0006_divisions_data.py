from django.db import migrations

from accounts import divisions


def load(apps, schema_editor):
    divisions.load(apps.get_model("accounts", "Division"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_address_book")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
