"""API authentication: a token (or session) resolves to exactly one membership, and every API
view runs inside that practice's scope."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django_scopes import scope
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response

from practice.audit import access_record
from practice.middleware import SESSION_ACTIVE_PRACTICE
from practice.models import AccessEvent, Membership
from practice.permissions import Perm
from practice.selectors import membership_for_user
from practice.services import api_token_lookup, api_token_touch


class MembershipTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer tend_...`` (or ``Token tend_...``) bound to one membership."""

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        token = api_token_lookup(header[1].decode(errors="replace"))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        api_token_touch(token)
        _bind(request, token.membership, token)
        return token.membership.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class PracticeSessionAuthentication(authentication.SessionAuthentication):
    """Browser session (CSRF-checked); the practice is the one last opened in the UI."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        slug = request.session.get(SESSION_ACTIVE_PRACTICE)
        membership = membership_for_user(user=user, practice_slug=slug) if slug else None
        if membership is not None and membership.requires_mfa and not user.is_verified():
            membership = None
        _bind(request, membership, None)
        return result


def _bind(request: Request, membership: Membership | None, token: Any) -> None:
    django_request: HttpRequest = request._request
    for target in (request, django_request):
        target.membership = membership
        target.practice = membership.practice if membership else None
        target.api_token = token
        target.api_key = None


class IsPracticeMember(permissions.BasePermission):
    """Authenticated with a membership, and (if the view names one) holding ``required_perm``.

    An API key (``request.api_key``) acts for its creator only within its scopes: the view's
    ``api_scope`` with ``:read`` for safe methods and ``:write`` otherwise; no ``api_scope``, no key.
    """

    message = "You do not have access to this."

    def has_permission(self, request: Request, view: Any) -> bool:
        membership = getattr(request, "membership", None)
        if membership is None or not request.user or not request.user.is_authenticated:
            return False
        api_key = getattr(request, "api_key", None)
        if api_key is not None and not self._key_allows(api_key, request, view):
            return False
        required: Perm | None = getattr(view, "required_perm", None)
        action_perms: dict[str, Perm] = getattr(view, "action_perms", {})
        action = getattr(view, "action", None)
        if action in action_perms:
            required = action_perms[action]
        return required is None or membership.has_perm(required)

    def _key_allows(self, api_key: Any, request: Request, view: Any) -> bool:
        from integrations.api_keys import key_allows, scope_needed

        domain: str | None = getattr(view, "api_scope", None)
        if key_allows(api_key, domain=domain, method=request.method):
            return True
        if not domain:
            self.message = "API keys cannot use this endpoint; use a user token."
        else:
            self.message = f"This API key lacks the {scope_needed(domain=domain, method=request.method)} scope."
        return False


class PracticeScopedAPIMixin:
    """Every practice API view: runs the handler inside the authenticated membership's scope."""

    required_perm: Perm | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any):
        with ExitStack() as stack:
            self._scope_stack = stack
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        membership = getattr(request, "membership", None)
        if membership is not None:
            self._scope_stack.enter_context(scope(practice=membership.practice))
            _attribute_changes_to(request.user)


def _attribute_changes_to(user: Any) -> None:
    """AuditlogMiddleware ran before DRF authenticated the token, so it saw no user; name the
    actor in its context now (mutating its dict: a nested set_actor() would leak a receiver)."""
    from auditlog.context import auditlog_value

    try:
        context = auditlog_value.get()
    except LookupError:
        return
    if context.get("actor") is None:
        context["actor"] = user


class AuditedReadMixin:
    """Lists and reads of patient data through the API, each recorded in the access log (one
    event per list with its patient filter, one per object read). For GenericViewSet subclasses."""

    @property
    def membership(self) -> Membership:
        return self.request.membership

    def audited_list(self, queryset: QuerySet, *, object_type: str, patient: Any = None) -> Response:
        access_record(
            request=self.request._request,
            action=AccessEvent.Action.LIST,
            object_type=object_type,
            patient_id=patient.public_id if patient else None,
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def audited_retrieve(self) -> Response:
        obj = self.get_object()
        access_record(request=self.request._request, action=AccessEvent.Action.VIEW, target=obj)
        return Response(self.get_serializer(obj).data)
