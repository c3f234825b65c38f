from django.core.management.base import BaseCommand

from fixtures.loader import load_demo_province


class Command(BaseCommand):
    help = ("Load (or complete) the demo province: banks, branches, staff, shoppers, and the "
            "shared catalog (merchants through admission, products, images, batches).")

    def handle(self, *args, **options):
        summary = load_demo_province()
        self.stdout.write(self.style.SUCCESS(
            f"Demo province ready: {len(summary.banks)} banks, "
            f"{summary.created} objects created this time; catalog: "
            f"{summary.catalog_counts or 'unchanged'}."))
        for partner, key in summary.partner_keys:
            self.stdout.write(f"Partner API key of {partner} (shown once): {key}")
