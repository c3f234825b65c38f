from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from federation import services


class Command(BaseCommand):
    help = ("Flush the traffic event buffer, then recompute the daily roll-ups of a range "
            "of local days (default: yesterday and today). Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", help="last day, YYYY-MM-DD (default: today)")
        parser.add_argument("--no-flush", action="store_true",
                            help="do not move buffered events into the table first")

    def handle(self, *args, **options):
        today = timezone.localdate()
        try:
            last = date.fromisoformat(options["last"]) if options["last"] else today
            first = (date.fromisoformat(options["first"]) if options["first"]
                     else last - timedelta(days=1))
        except ValueError as exc:
            raise CommandError(f"dates are YYYY-MM-DD: {exc}") from exc
        if first > last:
            raise CommandError("--from is after --to")
        if not options["no_flush"]:
            result = services.events_flush()
            self.stdout.write(f"flushed {result.events} events"
                              + (" (another flush was running)" if result.busy else ""))
        events = services.rollup_range(first, last)
        self.stdout.write(self.style.SUCCESS(
            f"rolled up {(last - first).days + 1} days ({first} .. {last}), {events} events"))
