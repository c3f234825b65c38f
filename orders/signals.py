"""At login, what the shopper did before logging in becomes the account's: the anonymous
cart joins the account's cart, and the session's storefront touches (see
``orders.middleware``) attribute the account's checkouts."""

from __future__ import annotations

import logging

from orders import services
from orders.middleware import TOUCHES
from orders.views import CART_TOKEN

log = logging.getLogger(__name__)


def adopt_session_on_login(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    token = session.pop(CART_TOKEN, None)
    touches = session.pop(TOUCHES, None)
    try:
        if token:
            services.cart_merge(token=token, user=user)
        if touches:
            services.referral_claim(touch_ids=touches, user=user)
    except Exception:  # a failed merge must not stop the login itself
        log.exception("adopting the session's cart and touches for user %s", user.pk)
