"""The database backend: django-tenants' PostgreSQL backend that remembers the search path
the server already has (``base.DatabaseWrapper``)."""
