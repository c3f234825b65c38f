"""The data catalogue page on the portal: open to everyone (it is a declaration to the
people whose data it is); federation admins also see the state of the event pipeline."""

from django.shortcuts import render

from federation import catalogue, recorder
from federation.models import DataUse, RollupState


def data_catalogue(request):
    context = {"entries": catalogue.ENTRIES}
    user = request.user
    if user.is_authenticated and getattr(user, "is_federation_admin", False):
        context["pipeline"] = {
            "buffer": recorder.buffer_stats(),
            "last_rollup": RollupState.objects.order_by("-rolled_up_at").first(),
            "data_uses": DataUse.objects.count(),
        }
    return render(request, "federation/data_catalogue.html", context)
