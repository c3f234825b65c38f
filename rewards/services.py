from django.db import connection

from rewards.models import PointsProgramme


def programme_seed_for_bank(sender, *, bank, **kwargs) -> PointsProgramme:
    """Seed the bank's points programme; called in the bank's schema at onboarding."""
    assert connection.schema_name == bank.schema_name, "must run in the bank's schema"
    programme = PointsProgramme.objects.first()
    if programme is None:
        programme = PointsProgramme.objects.create(
            name=f"{bank.display_name}积分")
    return programme
