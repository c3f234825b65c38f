from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, register

from core.appconfig import PlatformAppConfig


@register(Tags.models)
def check_app_scopes(app_configs=None, **kwargs):
    """Every platform app says whether it is shared or tenant, and the settings agree."""
    errors = []
    shared = set(settings.SHARED_APPS)
    tenant = set(settings.TENANT_APPS)
    for name in [*settings.PLATFORM_SHARED, *settings.PLATFORM_TENANT]:
        if not isinstance(apps.get_app_config(name.rsplit(".", 1)[-1]), PlatformAppConfig):
            errors.append(Error(f"{name}'s AppConfig does not derive from PlatformAppConfig.",
                                id="core.E004"))
    for config in apps.get_app_configs():
        if not isinstance(config, PlatformAppConfig):
            continue
        name = config.name
        if config.scope not in {"shared", "tenant"}:
            errors.append(Error(f"{name} does not declare scope 'shared' or 'tenant'.",
                                id="core.E001", obj=config))
            continue
        if name in shared and name in tenant:
            errors.append(Error(f"{name} is in both SHARED_APPS and TENANT_APPS.",
                                id="core.E002", obj=config))
        expected = shared if config.scope == "shared" else tenant
        if name not in expected:
            errors.append(Error(
                f"{name} declares scope '{config.scope}' but is not in "
                f"{'SHARED_APPS' if config.scope == 'shared' else 'TENANT_APPS'}.",
                id="core.E003", obj=config))
    return errors
