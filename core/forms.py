from django.core.exceptions import ValidationError

from core.errors import validation_errors


def add_service_errors(form, exc: ValidationError, field_map: dict[str, str] | None = None):
    """Put a service's ValidationError on a form: field messages on their fields."""
    field_map = field_map or {}
    for key, messages in validation_errors(exc).items():
        target = field_map.get(key, key)
        if target not in form.fields:
            target = None
        for message in messages:
            form.add_error(target, message)
