from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import models

from core.appconfig import PlatformAppConfig
from core.states import machine_errors
from core.uploads import UploadField


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


@register(Tags.models)
def check_upload_fields(app_configs=None, **kwargs):
    """Every file or image field of the platform's apps is an UploadField with a policy
    (core.uploads): a person's file is never stored or served without one."""
    return upload_field_errors([
        model for config in apps.get_app_configs() if isinstance(config, PlatformAppConfig)
        for model in config.get_models()])


def upload_field_errors(models_to_check) -> list[Error]:
    errors = []
    for model in models_to_check:
        names = {f.name for f in model._meta.get_fields()}
        for field in model._meta.get_fields():
            if isinstance(field, models.FileField) and not isinstance(field, UploadField):
                errors.append(Error(
                    f"{model._meta.label}.{field.name} is a {type(field).__name__} without "
                    "an upload policy: declare it as core.uploads.UploadField(policy=...).",
                    obj=field, id="core.E010"))
            elif isinstance(field, UploadField) and "file_meta" not in names:
                errors.append(Error(
                    f"{model._meta.label} has an upload field but no file_meta "
                    "(core.uploads.file_meta_field()) for the original name and quarantine.",
                    obj=field, id="core.E012"))
    return errors


@register(Tags.models)
def check_state_machines(app_configs=None, **kwargs):
    """Every platform model with a ``status`` declares its state machine (core.states)."""
    return [Error(message, id="core.E020")
            for config in apps.get_app_configs() if isinstance(config, PlatformAppConfig)
            for model in config.get_models() for message in machine_errors(model)]
