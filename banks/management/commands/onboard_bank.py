from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from banks.services import BranchSpec, bank_onboard
from core.errors import validation_errors


class Command(BaseCommand):
    help = ("Onboard a member bank (schema, domains, branches). Safe to re-run.\n"
            "Branches: --branch 'code|name|county|address[|opening hours[|phone]]'")

    def add_arguments(self, parser):
        parser.add_argument("--code", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--short-name", default="")
        parser.add_argument("--region", default="")
        parser.add_argument("--slogan", default="")
        parser.add_argument("--brand-color", default="#1f7a4d")
        parser.add_argument("--domain", action="append", default=[], dest="domains")
        parser.add_argument("--branch", action="append", default=[], dest="branches")

    def handle(self, *args, **opts):
        branches = []
        for raw in opts["branches"]:
            parts = [p.strip() for p in raw.split("|")]
            if len(parts) < 4:
                raise CommandError(f"--branch {raw!r}: give code|name|county|address")
            parts += [""] * (6 - len(parts))
            branches.append(BranchSpec(code=parts[0], name=parts[1], county=parts[2],
                                       address=parts[3], opening_hours=parts[4],
                                       phone=parts[5]))
        try:
            result = bank_onboard(
                code=opts["code"], name=opts["name"], short_name=opts["short_name"],
                region=opts["region"], slogan=opts["slogan"],
                brand_color=opts["brand_color"], domains=opts["domains"], branches=branches)
        except ValidationError as exc:
            lines = [f"{field}: {msg}" for field, msgs in validation_errors(exc).items()
                     for msg in msgs]
            raise CommandError("Bank not onboarded:\n  " + "\n  ".join(lines))
        bank = result.bank
        verb = "Onboarded" if result.created else "Already on the platform; completed"
        self.stdout.write(self.style.SUCCESS(
            f"{verb}: {bank.name} (schema {bank.schema_name}); "
            f"domains added: {result.added_domains or '-'}; "
            f"branches added: {result.added_branches or '-'}"))
