"""Re-check every stored upload against today's policy (core.uploads) and set aside what
fails: moved under MEDIA_ROOT/quarantine/<schema>/, the record flagged, nothing deleted.

    manage.py uploads_quarantine [--dry-run]
"""

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand
from django_tenants.utils import get_tenant_model, schema_context

from core import uploads
from core.appconfig import PlatformAppConfig


class Command(BaseCommand):
    help = "Re-check stored uploads against the upload policy and quarantine what fails."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="Only count what would be set aside.")

    def handle(self, *args, dry_run=False, **options):
        root = settings.MEDIA_ROOT / uploads.QUARANTINE_DIR
        shared, tenant = [], []
        for config in apps.get_app_configs():
            if isinstance(config, PlatformAppConfig):
                models = [m for m in config.get_models() if uploads.upload_fields(m)]
                (shared if config.scope == "shared" else tenant).extend(models)
        schemas = [("public", shared)] + [
            (name, tenant) for name in get_tenant_model().objects.exclude(
                schema_name="public").order_by("schema_name")
            .values_list("schema_name", flat=True)]
        total = uploads.RecheckResult()
        for index, (schema, models) in enumerate(schemas, start=1):
            with schema_context(schema):
                for model in models:
                    found = uploads.recheck_rows(model, schema_name=schema, quarantine_root=root,
                                                 dry_run=dry_run)
                    total.checked += found.checked
                    total.quarantined += found.quarantined
                    total.missing += found.missing
                    if found.checked:
                        self.stdout.write(f"[{index}/{len(schemas)}] {schema} "
                                          f"{model._meta.label}: {found.checked} checked, "
                                          f"{found.quarantined} set aside, "
                                          f"{found.missing} missing")
        verb = "would be set aside" if dry_run else "set aside"
        self.stdout.write(self.style.SUCCESS(
            f"{total.checked} files checked, {total.quarantined} {verb}, "
            f"{total.missing} missing from storage."))
