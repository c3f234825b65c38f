"""API tokens (django-rest-knox): one statement to authenticate a request.

Knox, on every request, reads the token's row with its user and then every other token of
that user, to delete the expired ones. Here a request reads only its own token (with the
user, one statement); an expired token is refused and deleted as before, and the other
expired tokens are deleted by a daily task (``accounts.tasks.delete_expired_api_tokens``),
not by whichever request comes next. A flash-sale stampede, all API requests with tokens,
is the path this shortens.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.signals import token_expired


class TokenAuthentication(KnoxTokenAuthentication):
    def _cleanup_token(self, auth_token) -> bool:
        """Whether ``auth_token`` has expired (then it is deleted); other tokens of the
        user are left to the daily task."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI schema names it as knox's bearer token."""

    target_class = "accounts.tokens.TokenAuthentication"
