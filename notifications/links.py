"""Where a notification's link opens: its path on the domain of the bank it belongs to
(the storefront the shopper bought on, the console of the bank or merchant), or on the
current domain when it belongs to none or to this one."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme

from banks.selectors import bank_primary_domain
from notifications.models import Notification


def target_url(request, notification: Notification) -> str:
    link = notification.link
    if not link or not url_has_allowed_host_and_scheme(link, allowed_hosts=None):
        return ""
    here = getattr(request, "bank", None)
    if notification.bank_id is None or (here is not None and here.pk == notification.bank_id):
        return link
    domain = bank_primary_domain(notification.bank)
    if not domain:
        return link
    port = request.get_port()
    default = "443" if request.is_secure() else "80"
    suffix = "" if port == default else f":{port}"
    return f"{request.scheme}://{domain}{suffix}{link}"
