from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts import divisions
from accounts.models import Division


class Command(BaseCommand):
    help = ("Load China's administrative divisions (code,name,parent CSV, optionally "
            "gzipped) into the address book's division table: new codes are added, "
            "renamed ones updated, none deleted. Without a file, the shipped edition.")

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default=str(divisions.DATA_FILE))

    def handle(self, *args, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            count = divisions.load(Division, path)
        except (KeyError, ValueError) as exc:
            raise CommandError(f"Not a division file (code,name,parent): {exc}")
        self.stdout.write(f"Loaded {count} divisions.")
