"""The top bar's unread badge: one COUNT, only for a signed-in person and only when a
template shows it."""

from __future__ import annotations

from notifications import selectors


class _UnreadCount:
    def __init__(self, user):
        self.user = user
        self.value: int | None = None

    def __call__(self) -> int:
        if self.value is None:
            self.value = selectors.unread_count(user=self.user)
        return self.value


def unread(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_notifications": 0}
    return {"unread_notifications": _UnreadCount(user)}
