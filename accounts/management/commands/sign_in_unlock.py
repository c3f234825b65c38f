from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import sign_in_unlock
from core.errors import validation_errors


class Command(BaseCommand):
    help = ("Clear the failed sign-ins of an account (username or mobile number) and/or an "
            "address, so that it can sign in at once.")

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", default="")
        parser.add_argument("--address", default="", help="an IP address to unlock")

    def handle(self, *args, username, address, **options):
        try:
            cleared = sign_in_unlock(actor=None, bank=None, identifier=username,
                                     address=address)
        except ValidationError as exc:
            raise CommandError("; ".join(m for ms in validation_errors(exc).values()
                                         for m in ms))
        self.stdout.write(f"Cleared {cleared} failed sign-in record(s).")
