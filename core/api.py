"""What every API view shares: reading a query or body through a serializer, the page
parameters of a list, and what a permission asks of the view."""

from __future__ import annotations

from rest_framework import serializers


def valid(serializer_class, data, **kwargs) -> dict:
    """``data`` read by ``serializer_class``; bad input raises DRF's ValidationError (400
    with a message per field). For query parameters, an empty value (``?start=``) is read
    as not given, as a browser's GET form sends it; the schema declares that
    (``allowEmptyValue``, see core.schema)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def view_handles(view, request) -> bool:
    """Whether the view has a handler for this method (else DRF answers 405 after the
    permission check: a permission that answers 404 must let that through)."""
    method = request.method.lower()
    return method in view.http_method_names and hasattr(view, method)


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, required=False, default=1)
    per_page = serializers.IntegerField(min_value=1, max_value=100, required=False,
                                        default=20)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false`` and nothing else: ``0``, ``"no"`` or ``"perhaps"`` is a
    400, as the schema (type boolean) says. DRF's own field reads form values ("on", "1",
    0) for HTML forms, which the API does not take (its bodies are JSON)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


def require_json_strings() -> None:
    """A string field of the API takes a JSON string and nothing else, as the schema
    (type string) says: DRF's CharField would also read ``42`` or ``4.2`` as text, so a
    client sending a number where a name or a code belongs was accepted, not told. Bodies
    are JSON and query parameters are always strings, so only wrong types are refused.
    Applied once, to every CharField and its subclasses (email, regex, slug, URL), when
    the core app starts."""
    if getattr(serializers.CharField, "_json_strings_only", False):
        return
    lenient = serializers.CharField.to_internal_value

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return lenient(self, data)

    serializers.CharField.to_internal_value = to_internal_value  # type: ignore[method-assign]
    serializers.CharField._json_strings_only = True  # type: ignore[attr-defined]
