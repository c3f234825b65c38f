"""Writes of the inbox: a notification to people (once per event), its text message,
reading, and the preferences of what comes by text.

``notify`` is called after the action that caused it has committed (see
``notifications.receivers``); the text message goes through a Celery task
(``notifications.tasks.send_text``) that retries a failing SMS gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import sms
from notifications.models import BY_TEXT_DEFAULT, Kind, Notification, Preference

log = logging.getLogger(__name__)


def language_of(user) -> str:
    """The language a person's notifications are written in: the one they last chose on
    a page (``User.language``), else the platform's (Simplified Chinese)."""
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


def page_path(name: str, *args, **kwargs) -> str:
    """A page's path on a bank's domain (the portal's pages are there too), whichever
    host's request or worker asks."""
    return reverse(name, args=args or None, kwargs=kwargs or None,
                   urlconf=settings.ROOT_URLCONF)


def wants_text(*, user, kind: str) -> bool:
    pref = Preference.objects.filter(user=user, kind=kind).values_list("by_text",
                                                                       flat=True).first()
    return BY_TEXT_DEFAULT.get(kind, False) if pref is None else pref


def notify(*, recipients: Iterable, kind: str, dedupe_key: str,
           compose: Callable[[], tuple[str, str]], link: str = "", bank=None,
           text: bool = True) -> list[Notification]:
    """One inbox row per recipient for this event (``dedupe_key``), written at most once
    however often it is called; a new row is also texted to the person's phone if their
    preference for ``kind`` says so (``text=False``: never, the caller texts itself).
    ``compose()`` gives (title, body) and is called in each person's language."""
    created: list[Notification] = []
    seen: set[int] = set()
    for user in recipients:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        with translation.override(language_of(user)):
            title, body = compose()
        row, new = Notification.objects.get_or_create(
            user=user, dedupe_key=dedupe_key[:120],
            defaults={"kind": kind, "title": str(title)[:120], "body": str(body)[:500],
                      "link": link[:300], "bank": bank})
        if new:
            created.append(row)
            if text and user.phone and wants_text(user=user, kind=kind):
                transaction.on_commit(partial(queue_text, row.pk), robust=True)
    return created


def queue_text(notification_id: int) -> None:
    """Hand the text message to the workers; a broker that is down costs the message,
    never the action (the inbox row is there)."""
    # Late: notifications.tasks imports this module to send what is queued here.
    from notifications.tasks import send_text

    try:
        send_text.apply_async((notification_id,), retry=False)
    except Exception:
        log.exception("could not queue the text of notification %s", notification_id)


def sms_text(notification: Notification) -> str:
    return _("%(title)s: %(body)s") % {"title": notification.title,
                                        "body": notification.body}


def notification_text_send(*, notification_id: int) -> bool:
    """Send the notification's text message once (a retry after a success sends
    nothing); an error of the SMS gateway propagates, for the task to retry."""
    with transaction.atomic():
        row = (Notification.objects.select_for_update().select_related("user")
               .filter(pk=notification_id).first())
        if row is None or row.texted_at is not None or not row.user.phone:
            return False
        if not wants_text(user=row.user, kind=row.kind):
            return False
        with translation.override(language_of(row.user)):
            text = sms_text(row)
        sms.send_sms(row.user.phone, text)
        row.texted_at = timezone.now()
        row.save(update_fields=["texted_at"])
    return True


def notification_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at)
    return notification


def notifications_read_all(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now())


@transaction.atomic
def preferences_set(*, user, by_text: dict[str, bool]) -> None:
    """Which kinds also come by text message (kinds not named keep their setting)."""
    unknown = sorted(k for k in by_text if k not in Kind.values)
    if unknown:
        raise ValidationError({"kind": [_("Unknown kind of notification: %(kinds)s.")
                                        % {"kinds": ", ".join(unknown)}]})
    for kind, on in by_text.items():
        Preference.objects.update_or_create(user=user, kind=kind,
                                            defaults={"by_text": bool(on)})
