"""The Celery app: tenant-aware, so a task queued inside a bank's schema runs there.

tenant-schemas-celery stores the current schema in the task's headers when it is queued
and enters that schema in the worker before the task runs. Tasks that work on a bank's
private data must be queued inside ``schema_context(bank.schema_name)`` (or on that bank's
request) and take ids, not objects.
"""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
