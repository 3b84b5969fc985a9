"""OpenAPI corrections found by schemathesis, applied to the whole API.

* Common error answers: every authenticated operation can answer 401 (no or bad credentials),
  403 (role or API-key scope), 404 (an id in the path, the body or a filter that is not there, or
  a page past the end) and 429 (rate limit); operations taking query parameters or a body can
  answer 400. All in the one error shape (``ErrorOut``). (``add_common_error_responses``, a
  post-processing hook.)
* Blank values the API really returns: an optional email or URL is ``""`` when unset, and a
  read-only choice of a model field with ``blank=True`` can be ``""`` (DRF drops ``allow_blank`` on
  read-only model fields, so drf-spectacular leaves the blank out of the enum).
* Times: DRF writes ``"09:00:00"``, which JSON Schema's ``format: time`` refuses (it wants an
  offset); times are documented with a pattern instead.

* Tags: each operation is tagged with its view's ``api_scope`` (``TendAutoSchema``).

The field extensions register when this module is imported, which DRF does on the first schema
generation because ``TendAutoSchema`` is ``DEFAULT_SCHEMA_CLASS``.
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers

TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
BLANK = {"type": "string", "maxLength": 0}

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
DESCRIPTIONS = {
    400: "Invalid input (the fields are named)",
    401: "Not authenticated, or the token or API key is invalid, expired or revoked",
    403: "Not allowed for this role, or outside the API key's scopes",
    404: "Not found (or in another practice), or no such page",
    429: "Rate limit reached; see the Retry-After header",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
METHODS = ("get", "post", "put", "patch", "delete")


def _error(code: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[code],
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    if code == 429:
        response["headers"] = RETRY_AFTER
    return response


def add_common_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    if "ErrorOut" not in result.get("components", {}).get("schemas", {}):
        return result
    for item in result.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            anonymous = operation.get("security") in ([], [{}])
            codes = {429}
            if not anonymous:
                codes |= {401, 403, 404}
            if "requestBody" in operation or any(p.get("in") == "query" for p in parameters):
                codes.add(400)
            for code in sorted(codes):
                responses.setdefault(str(code), _error(code))
    return result


# --- Field extensions --------------------------------------------------------------------------


def _blank_allowed(field: serializers.Field) -> bool:
    """The field can hold ``""``: it says so, or it is a read-only copy of a ``blank=True`` model field."""
    if getattr(field, "allow_blank", False):
        return True
    if not field.read_only:
        return False
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    source = field.source or field.field_name
    if model is None or not source or "." in source or source == "*":
        return False
    try:
        return bool(model._meta.get_field(source).blank)
    except Exception:  # not a model field (a property, an annotation)
        return False


class _BlankableFormat(OpenApiSerializerFieldExtension):
    """An email or URL that may be blank: ``anyOf`` the format and the empty string."""

    match_subclasses = True
    openapi_type: OpenApiTypes

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = build_basic_type(self.openapi_type)
        return {"anyOf": [schema, BLANK]} if _blank_allowed(self.target) else schema


class BlankableEmailField(_BlankableFormat):
    target_class = "rest_framework.fields.EmailField"
    openapi_type = OpenApiTypes.EMAIL


class BlankableUrlField(_BlankableFormat):
    target_class = "rest_framework.fields.URLField"
    openapi_type = OpenApiTypes.URI


class BlankableChoiceField(OpenApiSerializerFieldExtension):
    """A read-only choice of a ``blank=True`` model field: the enum plus the blank (``BlankEnum``)."""

    target_class = "rest_framework.fields.ChoiceField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        field = self.target
        if type(field) is serializers.ChoiceField and not field.allow_blank and _blank_allowed(field):
            field = copy.copy(field)
            field.allow_blank = True
        return auto_schema._map_serializer_field(field, direction, bypass_extensions=True)


class PlainTimeField(OpenApiSerializerFieldExtension):
    """``HH:MM[:SS[.ffffff]]`` as DRF reads and writes it (``format: time`` would demand an offset)."""

    target_class = "rest_framework.fields.TimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "string", "pattern": TIME_PATTERN, "example": "09:30:00"}


# --- Tags --------------------------------------------------------------------------------------


class TendAutoSchema(AutoSchema):
    """Operations are grouped by the view's ``api_scope``: the tag is the domain an API key needs
    (``<tag>:read`` / ``<tag>:write``). Views without one (sign-in, user tokens) are ``auth``."""

    def get_tags(self) -> list[str]:
        scope = getattr(self.view, "api_scope", None)
        if scope:
            return [scope]
        if self.path.startswith("/api/v1/auth/"):
            return ["auth"]
        return super().get_tags()
