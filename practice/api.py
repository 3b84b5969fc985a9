"""REST API of the practice app: token issue, the caller's identity, tokens, locations and staff.

Thin views: parse, call one selector or service, render. Every practice-scoped view puts
``PracticeScopedAPIMixin`` first (it runs the handler inside the membership's practice scope), so
querysets from the selectors only ever see the caller's practice and another practice's
``public_id`` is a 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in, user_login_failed
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from practice import selectors, services
from practice.api_auth import PracticeScopedAPIMixin
from practice.audit import access_record
from practice.models import AccessEvent, ApiToken, Location, Membership
from practice.permissions import Perm
from practice.serializers import (
    ApiTokenOut,
    ErrorOut,
    LocationFilterIn,
    LocationOut,
    MemberFilterIn,
    MemberOut,
    MeOut,
    TokenIssuedOut,
    TokenObtainIn,
)

# One message for a wrong password, an unknown practice and a practice the user is not a member
# of: the answer must not reveal which accounts or practices exist.
CREDENTIALS_INVALID = "That email, password and practice do not match an active membership."
OTP_REQUIRED = "A code from your authenticator app is required."
OTP_INVALID = "That code is not right, or it was already used."
MFA_ENROL_FIRST = (
    "Your role requires two-factor authentication. Sign in to the web app once to set up an "
    "authenticator app, then request a token again."
)


# --- OpenAPI ---------------------------------------------------------------------------------


class TokenAuthScheme(OpenApiAuthenticationExtension):
    target_class = "practice.api_auth.MembershipTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from POST /api/v1/auth/token/, bound to one membership (user + practice).",
        }


class PracticeSessionScheme(OpenApiAuthenticationExtension):
    target_class = "practice.api_auth.PracticeSessionAuthentication"
    name = "sessionAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The web app's session; the practice is the one last opened there. Writes need the CSRF token.",
        }


ERRORS = {
    400: OpenApiResponse(ErrorOut, description="Invalid input"),
    401: OpenApiResponse(ErrorOut, description="Not authenticated"),
    403: OpenApiResponse(ErrorOut, description="Not allowed for this role"),
    404: OpenApiResponse(ErrorOut, description="Not found (or in another practice)"),
    429: OpenApiResponse(ErrorOut, description="Too many attempts"),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many failed sign-in attempts. Try again later."
    default_code = "locked_out"

    def __init__(self) -> None:
        super().__init__()
        self.wait = settings.AXES_COOLOFF_TIME.total_seconds()  # becomes the Retry-After header


def _raise_if_locked_out(django_request: HttpRequest) -> None:
    """django-axes flags the request when the email + IP is locked out (or just became so).

    The API answers in its own error shape; the flag is cleared so AxesMiddleware does not
    replace that answer with the HTML lockout page.
    """
    if getattr(django_request, "axes_locked_out", False):
        django_request.axes_locked_out = False
        raise LockedOut


def _invalid(field: str | None, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({field or api_settings.NON_FIELD_ERRORS_KEY: [message]})


# --- Tokens ----------------------------------------------------------------------------------


class TokenObtainView(APIView):
    """Exchange email + password (+ TOTP code) for a bearer token bound to one membership."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    exposes_model = None  # not practice-scoped: nothing of a practice is read by id here

    @extend_schema(
        operation_id="auth_token_obtain",
        request=TokenObtainIn,
        responses={201: TokenIssuedOut, **_errors(400, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        form = TokenObtainIn(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        django_request = request._request
        email = data["email"].strip().lower()
        # Passed as the USERNAME_FIELD keyword: django-axes reads the email from the same
        # credentials key in both its backend and its failure signal (AXES_USERNAME_FORM_FIELD).
        user = authenticate(django_request, email=email, password=data["password"])
        _raise_if_locked_out(django_request)
        if user is None:
            raise _invalid(None, CREDENTIALS_INVALID)
        membership = selectors.membership_for_user(user=user, practice_slug=data["practice"])
        if membership is None:
            raise _invalid(None, CREDENTIALS_INVALID)

        has_mfa = services.user_has_mfa(user)
        if membership.requires_mfa and not has_mfa:
            raise _invalid(None, MFA_ENROL_FIRST)
        if has_mfa:
            code = data.get("otp", "")
            if not code.strip():
                raise _invalid("otp", OTP_REQUIRED)
            if services.mfa_verify(user=user, code=code) is None:
                # A wrong code counts towards the same lockout as a wrong password.
                user_login_failed.send(sender=__name__, credentials={"email": email}, request=django_request)
                _raise_if_locked_out(django_request)
                raise _invalid("otp", OTP_INVALID)

        token, raw = services.api_token_issue(membership=membership, name=data.get("name") or "API token")
        # A completed sign-in: resets the axes failure count (AXES_RESET_ON_SUCCESS), logs the
        # access and updates last_login, as the web sign-in does.
        user_logged_in.send(sender=type(user), request=django_request, user=user)
        out = TokenIssuedOut(
            {
                "token": raw,
                "token_id": token.public_id,
                "practice": membership.practice.slug,
                "role": membership.role,
                "expires_at": token.expires_at,
            }
        )
        return Response(out.data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(operation_id="auth_tokens_list", responses={200: ApiTokenOut(many=True), **_errors(401, 403)}),
    destroy=extend_schema(
        operation_id="auth_tokens_revoke",
        responses={204: OpenApiResponse(description="Revoked"), **_errors(401, 403, 404)},
    ),
)
class ApiTokenViewSet(PracticeScopedAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own tokens in the current practice (never the key or its hash)."""

    exposes_model = ApiToken
    required_perm = None  # one's own tokens: any active member
    serializer_class = ApiTokenOut
    lookup_field = "public_id"

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.all_objects.none()
        return selectors.membership_api_token_list(membership=self.request.membership)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.api_token_revoke(token=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- The caller ------------------------------------------------------------------------------


class MeView(PracticeScopedAPIMixin, APIView):
    """Who the credentials belong to: user, practice, role and what the role may do."""

    exposes_model = Membership
    api_scope = "practice"

    @extend_schema(operation_id="me", responses={200: MeOut, **_errors(401, 403)})
    def get(self, request: Request) -> Response:
        membership: Membership = request.membership
        out = MeOut(
            {
                "user": membership.user,
                "practice": membership.practice,
                "membership": membership,
                "auth": _auth_kind(request),
            }
        )
        return Response(out.data)


def _auth_kind(request: Request) -> str:
    if getattr(request, "api_key", None) is not None:
        return "api_key"
    return "token" if isinstance(request.auth, ApiToken) else "session"


# --- Practice resources ----------------------------------------------------------------------


class _AuditedReadOnlyViewSet(PracticeScopedAPIMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve by ``public_id``; a retrieve writes a PHI access event."""

    lookup_field = "public_id"
    api_scope = "practice"
    filter_serializer_class: type[serializers.Serializer]

    def filters(self) -> dict[str, Any]:
        """Validated query-string filters (a bad value is a 400 naming the parameter)."""
        form = self.filter_serializer_class(data=self.request.query_params.dict())
        form.is_valid(raise_exception=True)
        return form.validated_data

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj: Model = self.get_object()
        access_record(request=request._request, action=AccessEvent.Action.VIEW, target=obj)
        return Response(self.get_serializer(obj).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[LocationFilterIn], responses={200: LocationOut(many=True), **_errors(400, 401, 403)}
    ),
    retrieve=extend_schema(responses={200: LocationOut, **_errors(401, 403, 404)}),
)
class LocationViewSet(_AuditedReadOnlyViewSet):
    """The practice's locations; filter with ``?is_active=true|false``."""

    exposes_model = Location
    required_perm = Perm.LOCATION_VIEW
    serializer_class = LocationOut
    filter_serializer_class = LocationFilterIn

    def get_queryset(self) -> QuerySet[Location]:
        if getattr(self, "swagger_fake_view", False):
            return Location.all_objects.none()
        if self.action == "list":
            return selectors.location_search(**self.filters())
        return selectors.location_list()


@extend_schema_view(
    list=extend_schema(parameters=[MemberFilterIn], responses={200: MemberOut(many=True), **_errors(400, 401, 403)}),
    retrieve=extend_schema(responses={200: MemberOut, **_errors(401, 403, 404)}),
)
class MemberViewSet(_AuditedReadOnlyViewSet):
    """The practice's staff memberships; filter with ``?role=`` and ``?is_active=true|false``."""

    exposes_model = Membership
    required_perm = Perm.STAFF_VIEW
    serializer_class = MemberOut
    filter_serializer_class = MemberFilterIn

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):
            return Membership.all_objects.none()
        if self.action == "list":
            return selectors.member_search(**self.filters())
        return selectors.member_list()


# --- Fallback --------------------------------------------------------------------------------


@extend_schema(exclude=True)
class ApiNotFoundView(APIView):
    """Any other path under /api/v1/: a 404 in the API's error shape, not the HTML page."""

    authentication_classes: list = []
    permission_classes: list = []
    exposes_model = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise exceptions.NotFound
