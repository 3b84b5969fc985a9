"""API-key authentication and per-credential rate limits for /api/v1/ (and /fhir/R4/).

``Authorization: Bearer tendk_...`` authenticates as the key's creator, bound to the key's
practice; ``practice.api_auth.IsPracticeMember`` then limits it to the view's ``api_scope``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling
from rest_framework.request import Request

from integrations.api_keys import KEY_PREFIX, api_key_lookup, api_key_refusal, api_key_touch
from integrations.models import ApiKey

WINDOW_SECONDS = 60


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """A practice's API key (``Bearer tendk_...``); any other bearer value is left to the next class."""

    keyword = "bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != self.keyword.encode():
            return None
        raw = header[1].decode(errors="replace")
        if not raw.startswith(KEY_PREFIX):
            return None  # a user token: MembershipTokenAuthentication's job
        key = api_key_lookup(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        refusal = api_key_refusal(key)
        if refusal:
            raise exceptions.AuthenticationFailed(refusal)
        api_key_touch(key)
        membership = key.created_by
        django_request: HttpRequest = request._request
        for target in (request, django_request):
            target.membership = membership
            target.practice = key.practice
            target.api_token = None  # the access log's token column is for user tokens
            target.api_key = key
        return membership.user, key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.api_auth.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tendk_…",
            "description": (
                "A practice's API key (`Authorization: Bearer tendk_...`), created by an owner or admin under "
                "Settings → API keys and shown once. It acts for the admin who created it, limited to its "
                "scopes: `<domain>:read` for GET, `<domain>:write` for other methods, where the domain is the "
                "operation's tag group (practice, clinical, scheduling, assessments, billing, notifications, "
                "integrations). Each key has its own rate limit per minute."
            ),
        }


# --- Rate limits -----------------------------------------------------------------------------


class _WindowThrottle(throttling.BaseThrottle):
    """A fixed one-minute window counted in the cache (one INCR per request, atomic on Redis)."""

    def limit(self, request: Request) -> tuple[str, int] | None:
        """(identity, requests allowed per minute), or None when this throttle does not apply."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        limit = self.limit(request)
        if limit is None:
            return True
        identity, allowed = limit
        now = timezone.now().timestamp()
        window = int(now // WINDOW_SECONDS)
        self._wait = WINDOW_SECONDS - (now % WINDOW_SECONDS)
        key = f"throttle:{identity}:{window}"
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
            count = 1
        return count <= allowed

    def wait(self) -> float:
        return max(1.0, round(self._wait))


class ApiKeyRateThrottle(_WindowThrottle):
    """Each API key's own ``rate_limit_per_minute``."""

    def limit(self, request: Request) -> tuple[str, int] | None:
        key: ApiKey | None = getattr(request, "api_key", None)
        if key is None:
            return None
        return f"apikey:{key.public_id}", key.rate_limit_per_minute


class UserTokenRateThrottle(_WindowThrottle):
    """User tokens: ``settings.API_USER_TOKEN_RATE_PER_MINUTE`` per user (all their tokens together)."""

    def limit(self, request: Request) -> tuple[str, int] | None:
        if getattr(request, "api_key", None) is not None or getattr(request, "api_token", None) is None:
            return None  # keys have their own limit; browser sessions are not throttled here
        return f"user:{request.membership.user.public_id}", settings.API_USER_TOKEN_RATE_PER_MINUTE
