from django.apps import AppConfig


class PlatformAppConfig(AppConfig):
    """Base for the platform's own apps: each declares which schema its data lives in.

    ``scope = "shared"``: the public schema (the federation, data the province trades on).
    ``scope = "tenant"``: each bank's own schema (a bank's secrets).
    A system check (core.checks) refuses an app whose scope disagrees with the settings.

    Import this module, not the class (``from core import appconfig``): Django picks an
    app's config class only when its ``apps.py`` holds exactly one AppConfig subclass.
    """

    default_auto_field = "django.db.models.BigAutoField"
    scope: str = ""
