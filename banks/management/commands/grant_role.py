from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from banks.models import Bank, StaffRole
from banks.services import federation_admin_grant, staff_grant
from core.errors import validation_errors


class Command(BaseCommand):
    help = ("Give a person a role: staff of a bank (--bank CODE --role ROLE [--branch CODE]) "
            "or federation admin (--federation-admin).")

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username")
        parser.add_argument("--bank", help="bank code")
        parser.add_argument("--role", choices=StaffRole.values)
        parser.add_argument("--branch", help="branch code (optional)")
        parser.add_argument("--federation-admin", action="store_true")

    def handle(self, *args, **opts):
        user = get_user_model().objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"No user {opts['user']!r}.")
        try:
            if opts["federation_admin"]:
                federation_admin_grant(user=user)
                self.stdout.write(self.style.SUCCESS(f"{user.username} is a federation admin."))
                return
            if not (opts["bank"] and opts["role"]):
                raise CommandError("Give --bank and --role, or --federation-admin.")
            bank = Bank.objects.filter(code=opts["bank"]).first()
            if bank is None:
                raise CommandError(f"No bank {opts['bank']!r}.")
            branch = None
            if opts["branch"]:
                branch = bank.branches.filter(code=opts["branch"]).first()
                if branch is None:
                    raise CommandError(f"{bank.code} has no branch {opts['branch']!r}.")
            staff_grant(bank=bank, user=user, role=opts["role"], branch=branch)
        except ValidationError as exc:
            raise CommandError("; ".join(m for ms in validation_errors(exc).values()
                                         for m in ms))
        self.stdout.write(self.style.SUCCESS(f"{user.username}: {opts['role']} of {bank.code}."))
