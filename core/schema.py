"""The OpenAPI schema says which error statuses each operation may answer, in one place.

``ErrorAutoSchema`` (the project's ``DEFAULT_SCHEMA_CLASS``) adds to every operation the
error statuses the view can answer, each with the one error shape of
``core.errors.api_exception_handler`` (the ``Error`` component). The statuses are worked
out from the view:

- 400: the operation takes input (a body, query or header parameters) or changes state
  (a business rule may refuse it);
- 401: the view authenticates (wrong or missing credentials);
- 403: the view needs more than ``AllowAny`` (a role that is not enough, a missing CSRF
  token with a session cookie);
- 404: the path names an object (an id, a number), or the permission answers 404 to
  outsiders (``answers_not_found = True``: bank staff of another bank, non-admins on the
  federation API);
- 409: the operation changes state (an illegal status transition, the same idempotency
  key still in flight);
- 422: the operation takes an ``Idempotency-Key`` header (a used key sent with another
  body);
- 429: the view is throttled;
- 503: the view calls the card gateway (``calls_payment_gateway = True``) and the gateway
  did not answer.

An optional query parameter sent empty (``?start=``) is read as not given, as a
browser's GET form sends it (``core.api.valid``): the schema says so with
``allowEmptyValue``.

A view whose answers differ sets ``error_statuses`` (the whole set; it replaces the
derived one). A status the view declares itself keeps its description and gets the
error shape if it declared none.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

DESCRIPTIONS = {
    400: "Bad input or a business rule refused: `errors` has a message per field.",
    401: "Not signed in, or wrong credentials.",
    403: "Signed in, but this role may not do it (or the CSRF token is missing).",
    404: "No such object for you (also: an object of another bank).",
    409: "Conflict: the object's status does not allow this now, or the same "
         "Idempotency-Key is still being processed.",
    422: "This Idempotency-Key was used before with another request body.",
    429: "Too many requests: slow down and retry later.",
    503: "The payment gateway did not answer; retry with the same Idempotency-Key.",
}


class ErrorSerializer(serializers.Serializer):
    """Every error of the API (see ``core.errors``)."""

    message = serializers.CharField(help_text="the first message, to show to the user")
    errors = serializers.DictField(  # type: ignore[assignment]  # the field named "errors"
        child=serializers.ListField(child=serializers.CharField()),
        help_text="messages by field (`non_field_errors` for the request as a whole); "
                  "empty when no field is at fault")

    class Meta:
        ref_name = "Error"


def error_statuses(schema: AutoSchema) -> set[int]:
    """The error statuses an operation may answer, worked out from its view."""
    view, method = schema.view, schema.method
    explicit = getattr(view, "error_statuses", None)
    if explicit is not None:
        return set(explicit)
    statuses: set[int] = set()
    parameters = schema._get_parameters()
    takes_input = (schema._get_request_body() is not None
                   or any(p["in"] in ("query", "header") for p in parameters))
    if takes_input or method in UNSAFE:
        statuses.add(400)
    if view.get_authenticators():
        statuses.add(401)
    permissions = view.get_permissions()
    if any(not isinstance(p, AllowAny) for p in permissions):
        statuses.add(403)
    elif method in UNSAFE and view.get_authenticators():
        statuses.add(403)  # the session's CSRF check
    if (any(p["in"] == "path" for p in parameters)
            or any(getattr(p, "answers_not_found", False) for p in permissions)):
        statuses.add(404)
    if method in UNSAFE:
        statuses.add(409)
    if any(p["in"] == "header" and p["name"].lower() == "idempotency-key"
           for p in parameters):
        statuses.add(422)
    if view.get_throttles():
        statuses.add(429)
    if getattr(view, "calls_payment_gateway", False):
        statuses.add(503)
    return statuses


class ErrorAutoSchema(AutoSchema):
    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in sorted(error_statuses(self)):
            key = str(code)
            if key not in responses:
                responses[key] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=DESCRIPTIONS[code]), key)
        for key, response in responses.items():
            if key[0] in "45" and not response.get("content"):
                described = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=response.get(
                        "description") or DESCRIPTIONS.get(int(key), "")), key)
                responses[key] = described
        return responses
