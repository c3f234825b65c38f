"""The inbox pages: the list, opening one (marks it read, follows its link), marking all
read, and which kinds also come by text message."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import first_message, validation_errors
from notifications import selectors, services
from notifications.links import target_url


@login_required
def inbox(request):
    page = Paginator(selectors.inbox_of(user=request.user), 20).get_page(
        request.GET.get("page"))
    return render(request, "notifications/inbox.html", {
        "page": page, "unread": selectors.unread_count(user=request.user)})


@login_required
def open_notification(request, notification_id: int):
    row = selectors.notification_of(user=request.user, notification_id=notification_id)
    services.notification_read(notification=row)
    return redirect(target_url(request, row) or "notifications:inbox")


@login_required
@require_POST
def read_all(request):
    n = services.notifications_read_all(user=request.user)
    if n:
        messages.success(request, _("All messages are marked read."))
    return redirect("notifications:inbox")


@login_required
def preferences(request):
    if request.method == "POST":
        kinds = selectors.kinds_for(user=request.user)
        chosen = set(request.POST.getlist("by_text"))
        by_text = {k: k in chosen for k in kinds}
        by_text.update(dict.fromkeys(chosen - set(kinds), True))  # refused if unknown
        try:
            services.preferences_set(user=request.user, by_text=by_text)
        except ValidationError as exc:
            messages.error(request, first_message(validation_errors(exc)))
        else:
            messages.success(request, _("Your message settings are saved."))
            return redirect("notifications:settings")
    return render(request, "notifications/settings.html", {
        "preferences": selectors.preferences_of(user=request.user),
        "has_phone": bool(request.user.phone)})
