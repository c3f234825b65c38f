"""What every page's top bar needs from orders: how many units are in the cart."""

from __future__ import annotations

from orders import selectors
from orders.views import CART_TOKEN


class _CartCount:
    """Counted when a template first asks (one query; none without a cart), then kept."""

    def __init__(self, request):
        self.request = request
        self.value: int | None = None

    def __call__(self) -> int:
        if self.value is None:
            request = self.request
            user = getattr(request, "user", None)
            session = getattr(request, "session", None)
            self.value = selectors.cart_quantity(
                user=user, token=session.get(CART_TOKEN) if session is not None else None)
        return self.value


def cart(request):
    return {"cart_count": _CartCount(request)}
