"""Rebuild every product's search vector and the typo vocabulary (after an upgrade that
changes how products are indexed, or after renaming categories or shops)."""

from django.core.management.base import BaseCommand
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from catalog.models import Product, SuggestKey
from catalog.services import product_reindex


class Command(BaseCommand):
    help = "Rebuild the search index of every product, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=1000)

    def handle(self, *args, batch: int, **options):
        with schema_context(get_public_schema_name()):
            ids = list(Product.objects.order_by("id").values_list("id", flat=True))
            done = 0
            for start in range(0, len(ids), batch):
                done += product_reindex(product_ids=ids[start:start + batch])
            # Suggestions read the keys by an index-only scan, which needs the visibility
            # map of the rewritten table (autovacuum would set it, later).
            # (inside a transaction, as in tests, VACUUM cannot run: ANALYZE only)
            vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cur:
                cur.execute(f"{vacuum} {SuggestKey._meta.db_table}")
        self.stdout.write(f"reindexed {done} products")
