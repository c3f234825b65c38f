"""Referral touches: a shopper's visits to a bank's storefront, for attributing checkouts.

On a bank's host, an HTML page (a GET answered 200 with text/html) records a touch at most
once per ``TOUCH_EVERY_SECONDS`` per session, and always when the address carries a share
link's ``?ref=`` code. The touch ids stay in the session (the last ``KEEP_TOUCHES``) so that
an anonymous visitor's touches become theirs when they log in (``orders.signals``).

No session is created just to note a plain visit: an anonymous visitor without a session
(a first request, a crawler, a script) is noted once they have one (a cart, a share link)
or log in; what attributes a checkout is the same, since a checkout needs a login on that
storefront, and the first page after it records the touch.

Cost per request: nothing on the portal, on other paths or methods; otherwise one look at
the session (which the page loads anyway) and no query unless a touch is due.
"""

from __future__ import annotations

import time

from orders import services

TOUCHES = "referral_touches"
LAST_TOUCH = "referral_touched_at"
TOUCH_EVERY_SECONDS = 30 * 60
KEEP_TOUCHES = 20
SKIP_PREFIXES = ("/api/", "/static/", "/media/", "/healthz", "/console/", "/merchant/")


class ReferralMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        bank = getattr(request, "bank", None)
        if (bank is None or request.method != "GET" or response.status_code != 200
                or request.path.startswith(SKIP_PREFIXES)
                or not response.get("Content-Type", "").startswith("text/html")):
            return response
        self._touch(request, bank)
        return response

    @staticmethod
    def _touch(request, bank) -> None:
        session = getattr(request, "session", None)
        if session is None:
            return
        code = request.GET.get("ref", "").strip()[:40]
        now = time.time()
        last = session.get(LAST_TOUCH)  # loads the session: an unknown key becomes None
        if not code and isinstance(last, list) and len(last) == 2 and last[0] == bank.pk \
                and isinstance(last[1], int | float) and now - last[1] < TOUCH_EVERY_SECONDS:
            return
        user = request.user if request.user.is_authenticated else None
        if not code and user is None and session.session_key is None and not session.modified:
            return
        touch = services.referral_touch(bank=bank, user=user, share_code=code)
        ids = [i for i in session.get(TOUCHES, []) if isinstance(i, int)]
        session[TOUCHES] = (ids + [touch.pk])[-KEEP_TOUCHES:]
        session[LAST_TOUCH] = [bank.pk, now]
