"""One error shape for the API and one for pages.

Services raise Django's ``ValidationError`` (field messages) or ``ApplicationError`` (a
business rule refused). The API returns both as HTTP 400 with
``{"message": "...", "errors": {"field": ["..."]}}``; every DRF error is reshaped alike.
``ConflictError`` (the same thing is under way in another request: 409 with a
``Retry-After`` header) and ``UnprocessableError`` (422) are application errors with
another status.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApplicationError(Exception):
    """A business rule refused the action; the message is meant for the user."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code

    headers: dict[str, str] = {}


class ConflictError(ApplicationError):
    """The same action is under way in another request; the client may retry later."""

    status_code = status.HTTP_409_CONFLICT

    def __init__(self, message: str, *, code: str = "conflict", retry_after: int = 2):
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class UnprocessableError(ApplicationError):
    """Well-formed, but it contradicts what the server already holds (HTTP 422)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


def _flatten(value, path: tuple = ()) -> list[str]:
    """DRF nests the errors of list items and nested serializers; give them as flat
    messages that say where they are, e.g. ``[0].name: This field is required.``"""
    if isinstance(value, dict):
        return [m for key, inner in value.items() for m in _flatten(inner, (*path, key))]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _flatten(item, path)]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return [f"{where}: {value}" if where else str(value)]


def validation_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for e in errs for m in e.messages]
                for field, errs in exc.error_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def first_message(errors: dict[str, list[str]]) -> str:
    for messages in errors.values():
        if messages:
            return messages[0]
    return ""


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        errors = validation_errors(exc)
        return Response({"message": first_message(errors), "errors": errors},
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ApplicationError):
        errors = {exc.field or "non_field_errors": [exc.message]}
        if exc.code == "gateway_unavailable":
            # An outside service did not answer: try again later, nothing was done twice.
            return Response({"message": exc.message, "errors": errors},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE,
                            headers={"Retry-After": "30", **(exc.headers or {})})
        if exc.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:  # busy: try again soon
            return Response({"message": exc.message, "errors": errors},
                            status=exc.status_code,
                            headers={"Retry-After": "1", **(exc.headers or {})})
        return Response({"message": exc.message, "errors": errors}, status=exc.status_code,
                        headers=exc.headers or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        errors = {key: _flatten(value) for key, value in errors.items()}
        response.data = {"message": first_message(errors), "errors": errors}
    else:
        detail = data.get("detail", "") if isinstance(data, dict) else data
        response.data = {"message": str(detail), "errors": {}}
    return response


def is_api_request(request) -> bool:
    return request.path.startswith("/api/")


def api_error_response(status_code: int, message: str, errors: dict | None = None):
    """The API's error shape for answers Django gives before (or without) DRF: an
    unknown path, an unreadable body, a character refused by a middleware."""
    return JsonResponse({"message": str(message), "errors": errors or {}},
                        status=status_code, json_dumps_params={"ensure_ascii": False})
