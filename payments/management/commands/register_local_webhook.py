from django.core.management.base import BaseCommand, CommandError

from payments.gateway import register_local_webhook


class Command(BaseCommand):
    help = ("Tell the local Stripe-compatible server where to deliver webhook events "
            "(signed with STRIPE_WEBHOOK_SECRET). Stripe itself is configured in its "
            "dashboard instead.")

    def add_arguments(self, parser):
        parser.add_argument("url", help="e.g. http://web:8000/api/v1/payments/webhooks/stripe/")

    def handle(self, *args, url: str, **options):
        try:
            register_local_webhook(url)
        except (RuntimeError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Webhook events go to {url}")
