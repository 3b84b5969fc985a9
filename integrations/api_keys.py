"""Per-practice API keys: issue (the raw key is shown once), look up by hash, revoke, touch.

A key is a system's credential, not a person's: it acts for the admin who created it, limited to
its scopes (``<domain>:read`` for safe methods, ``<domain>:write`` otherwise). Only the SHA-256 of
the key is stored; the first characters are kept so people can tell their keys apart.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from integrations.models import ApiKey
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm

KEY_PREFIX = "tendk_"
PREFIX_SHOWN = 12  # "tendk_" + 6 characters: enough to tell keys apart, useless to an attacker
TOUCH_EVERY = timedelta(minutes=1)
RATE_LIMIT_MAX = 10_000

# The API's domains; every API view names one of them in ``api_scope``.
DOMAINS: tuple[tuple[str, str], ...] = (
    ("practice", "Practice (locations, staff)"),
    ("clinical", "Clinical record"),
    ("scheduling", "Scheduling"),
    ("assessments", "Assessments"),
    ("billing", "Billing"),
    ("notifications", "Notifications"),
    ("integrations", "Integrations"),
)
ACCESS = ("read", "write")
SCOPES: tuple[str, ...] = tuple(f"{domain}:{access}" for domain, _label in DOMAINS for access in ACCESS)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def scope_needed(*, domain: str, method: str) -> str:
    """The scope a request needs: ``<domain>:read`` for safe methods, ``<domain>:write`` otherwise."""
    return f"{domain}:{'read' if method.upper() in ('GET', 'HEAD', 'OPTIONS') else 'write'}"


def key_allows(key: ApiKey, *, domain: str | None, method: str) -> bool:
    """Whether the key's scopes cover this request (a view without a domain refuses every key)."""
    if not domain:
        return False
    return scope_needed(domain=domain, method=method) in (key.scopes or [])


# --- Services --------------------------------------------------------------------------------


def _clean_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise DomainError(f"Unknown scope: {', '.join(unknown)}.", field="scopes")
    if not scopes:
        raise DomainError("Choose at least one scope.", field="scopes")
    return [scope for scope in SCOPES if scope in scopes]  # one stable order


@transaction.atomic
def api_key_create(
    *, by: Membership, name: str, scopes: list[str], rate_limit_per_minute: int = 120
) -> tuple[ApiKey, str]:
    """Issue a key of ``by``'s practice. Returns the key and its raw value, which is never stored."""
    if not by.has_perm(Perm.INTEGRATIONS_MANAGE):
        raise DomainError("Only owners and admins can create API keys.", code="forbidden")
    name = name.strip()
    if not name:
        raise DomainError("Give the key a name.", field="name")
    if not 1 <= rate_limit_per_minute <= RATE_LIMIT_MAX:
        raise DomainError(f"Use a limit between 1 and {RATE_LIMIT_MAX:,} a minute.", field="rate_limit_per_minute")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)  # 43 random url-safe characters
    key = ApiKey.all_objects.create(
        practice_id=by.practice_id,
        name=name[:100],
        key_prefix=raw[:PREFIX_SHOWN],
        key_hash=hash_key(raw),
        scopes=_clean_scopes(scopes),
        rate_limit_per_minute=rate_limit_per_minute,
        created_by=by,
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, by: Membership) -> ApiKey:
    """Revoke a key of ``by``'s practice (again is a no-op)."""
    if key.practice_id != by.practice_id:
        raise DomainError("Not found.", code="not_found")
    if not by.has_perm(Perm.INTEGRATIONS_MANAGE):
        raise DomainError("Only owners and admins can revoke API keys.", code="forbidden")
    key = ApiKey.all_objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at, key.revoked_by = timezone.now(), by
        key.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
    return key


def api_key_touch(key: ApiKey) -> None:
    """Record use at most once a minute: a conditional UPDATE, so concurrent requests write once."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return
    ApiKey.all_objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOUCH_EVERY)
    ).update(last_used_at=now)


# --- Selectors -------------------------------------------------------------------------------


def api_key_lookup(raw: str) -> ApiKey | None:
    """The key with this raw value, whatever its state (the caller says why it is refused)."""
    if not raw.startswith(KEY_PREFIX):
        return None
    return (
        ApiKey.all_objects.select_related("practice", "created_by__user", "created_by__practice")
        .filter(key_hash=hash_key(raw))
        .first()
    )


def api_key_refusal(key: ApiKey) -> str | None:
    """Why this key cannot be used now, or None when it can."""
    if key.revoked_at is not None:
        return "This API key has been revoked."
    creator = key.created_by
    if not (creator.is_active and creator.user.is_active):
        return "The staff member who created this API key is no longer active; create a new key."
    if not key.practice.is_active:
        return "This practice is not active."
    return None


def api_key_list() -> QuerySet[ApiKey]:
    """The current practice's keys, newest first (call inside the practice scope)."""
    return ApiKey.objects.select_related("created_by__user", "revoked_by__user").order_by(
        F("revoked_at").asc(nulls_first=True), "-created_at"
    )
