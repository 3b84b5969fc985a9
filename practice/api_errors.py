"""One JSON error shape for the whole API:

{"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"email": ["..."]}}}
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from practice.errors import DomainError


def _body(status_code: int, code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    return {"error": {"status": status_code, "code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        if exc.code == "not_found":
            return Response(_body(404, "not_found", "Not found."), status=404)
        if exc.code == "forbidden":
            return Response(_body(403, "forbidden", exc.message), status=403)
        if exc.field:
            return Response(_body(400, "invalid", exc.message, {exc.field: [exc.message]}), status=400)
        return Response(_body(409, exc.code, exc.message), status=409)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(_body(400, "invalid", "Some fields are not valid.", fields), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = _body(response.status_code, "invalid", "Some fields are not valid.", data)
    else:
        detail = getattr(exc, "detail", str(exc))
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = _body(response.status_code, str(code), str(detail))
    return response


def not_found_response() -> Response:
    return Response(_body(status.HTTP_404_NOT_FOUND, "not_found", "Not found."), status=404)
