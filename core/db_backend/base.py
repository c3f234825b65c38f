"""django-tenants' backend, with the search path that the server has remembered across
requests.

django-tenants (with ``TENANT_LIMIT_SET_CALLS``) sends ``SET search_path`` once per
schema switch; but a request on a bank's host switches twice (to the public schema, then
to the bank's) before its first statement, so every request on a persistent connection
sent a ``SET`` that the server already had. This backend keeps what the last successful
``SET`` left on the server (``path_on_server``) and skips the statement when the path
the next cursor needs is that one.

It forgets that path whenever the server may have dropped it, as django-tenants forgets
its own: on a rollback and a rollback to a savepoint (a ``SET`` is transactional), on a
failed ``SET``, when the connection is closed or opened. ``core/tests/test_search_path.py``
checks a second request on the same host and bank sends no ``SET``, and that a path undone
by a rollback is set again.
"""

from __future__ import annotations

from django.utils.asyncio import async_unsafe
from django_tenants.postgresql_backend import base
from django_tenants.utils import get_limit_set_calls


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        self.path_on_server: list[str] | None = None
        super().__init__(*args, **kwargs)

    def _handle_search_path(self, cursor=None):
        if (self.search_path_set_schemas is None and self.path_on_server is not None
                and not self._setting_search_path and self.schema_name
                and get_limit_set_calls()
                and self._get_cursor_search_paths() == self.path_on_server):
            self.search_path_set_schemas = self.path_on_server  # the server has it
            return
        reentered = self._setting_search_path
        super()._handle_search_path(cursor)
        if not reentered:
            self.path_on_server = self.search_path_set_schemas

    @async_unsafe
    def connect(self):
        self.path_on_server = None
        super().connect()

    def close(self):
        self.path_on_server = None
        super().close()

    @async_unsafe
    def rollback(self):
        self.path_on_server = None
        try:
            super().rollback()
        finally:
            self.path_on_server = None

    @async_unsafe
    def savepoint_rollback(self, sid):
        try:
            super().savepoint_rollback(sid)
        finally:
            self.path_on_server = None
