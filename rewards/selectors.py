from rewards.models import PointsProgramme


def programme_current() -> PointsProgramme | None:
    """The points programme of the bank whose schema the connection is in."""
    return PointsProgramme.objects.order_by("pk").first()
