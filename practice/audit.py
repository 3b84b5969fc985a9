"""Audit trail: hash-chained write log (django-auditlog) and PHI access log.

Each entry stores the hash of the previous entry of its chain (one chain per practice and log)
and its own SHA-256 over its content, so an edited, deleted or reordered row is detectable by
``manage.py verify_audit_chain``. On PostgreSQL a trigger also rejects UPDATE and DELETE.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

if TYPE_CHECKING:
    from django.http import HttpRequest

    from practice.models import AccessEvent

GENESIS_HASH = "0" * 64

# Fields of each log that the hash covers, in a fixed order. Adding a field to a log means
# adding it here *and* bumping nothing else: old entries hash the fields they had.
HASHED_FIELDS: dict[str, tuple[str, ...]] = {
    "auditlogentry": (
        "practice_id",
        "content_type_id",
        "object_pk",
        "object_id",
        "object_repr",
        "action",
        "changes",
        "changes_text",
        "actor_id",
        "actor_email",
        "remote_addr",
        "cid",
        "timestamp",
        "additional_data",
    ),
    "accessevent": (
        "practice_id",
        "user_id",
        "api_token_id",
        "action",
        "object_type",
        "object_id",
        "patient_id",
        "reason",
        "path",
        "ip_address",
        "user_agent",
        "occurred_at",
    ),
}


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _canonical_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return value


def _normalize(model: type[models.Model], name: str, value: Any) -> Any:
    """The value as the database gives it back, so insert-time and read-back hashes agree."""
    if value is None:
        return None
    field = next(f for f in model._meta.concrete_fields if name in (f.attname, f.name))
    if isinstance(field, models.ForeignKey):
        return int(value)
    if isinstance(field, models.JSONField):
        return json.loads(json.dumps(value, default=str))
    return _canonical(field.to_python(value))


def entry_digest(model: type[models.Model], values: dict[str, Any], *, chain_key: str, seq: int, prev_hash: str) -> str:
    model_name = model._meta.model_name
    payload = {name: _normalize(model, name, values.get(name)) for name in HASHED_FIELDS[model_name]}
    for ip_field in ("remote_addr", "ip_address"):
        if ip_field in payload:
            payload[ip_field] = _canonical_ip(payload[ip_field])
    payload.update(chain_key=chain_key, seq=seq, prev_hash=prev_hash)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _apply_request_context(row: models.Model) -> None:
    """Set actor and address from AuditlogMiddleware's context *before* hashing.

    django-auditlog sets them in a pre_save receiver, which runs after the hash would have been
    computed; it sets the same values again at save, so the hash stays true.
    """
    from auditlog.context import auditlog_value
    from django.db.models.signals import pre_save

    try:
        context = auditlog_value.get()
    except LookupError:
        return
    # auditlog never resets its context variable; a context whose receiver is gone is stale
    # (a finished request on this thread) and must not lend its actor to this entry.
    if not any(lookup_key[0] == context.get("signal_duid") for lookup_key, *_ in pre_save.receivers):
        return
    actor = context.get("actor")
    if actor is not None and getattr(actor, "is_authenticated", False) and row.actor_id is None:
        row.actor, row.actor_email = actor, getattr(actor, "email", None)
    for key, value in context.items():
        if key not in ("actor", "signal_duid") and hasattr(type(row), key):
            setattr(row, key, value() if callable(value) else value)


def redact(value: object) -> str:
    """AUDITLOG_MASK_CALLABLE: the change log says a masked field changed, never to what."""
    return "[redacted]"


def chain_key_for(model_name: str, practice_id: int | None) -> str:
    return f"{model_name}:{practice_id if practice_id is not None else 'global'}"


def _lock_head(chain_key: str):
    from practice.models import AuditChainHead

    try:
        return AuditChainHead.objects.select_for_update().get(chain_key=chain_key)
    except AuditChainHead.DoesNotExist:
        try:
            with transaction.atomic():
                AuditChainHead.objects.create(chain_key=chain_key)
        except IntegrityError:
            pass  # another transaction created it first
        return AuditChainHead.objects.select_for_update().get(chain_key=chain_key)


def _chain_tail(model: type[models.Model], chain_key: str, head) -> tuple[int, str]:
    """The newest link: the log's own last row (one step of the (chain_key, seq) index), or the
    head when it is ahead (the head is written once per batch; see `audit_batch`)."""
    tail = model._base_manager.filter(chain_key=chain_key).order_by("-seq").values_list("seq", "entry_hash").first()
    if tail is None or tail[0] < head.seq:
        return head.seq, head.last_hash
    return tail


@dataclass
class _Batch:
    appended: dict[str, type[models.Model]]  # chain key -> its log model
    locked: dict[str, Any]  # chain key -> its head as locked when the batch began


# The current `audit_batch`, or None outside one.
_current_batch: ContextVar[_Batch | None] = ContextVar("audit_batch", default=None)


@contextmanager
def audit_batch(*, practice_id: int | None = None) -> Iterator[None]:
    """Append many audit rows in one transaction without rewriting the chain head per row.

    PostgreSQL keeps every version of a row updated inside one open transaction, so a head
    updated per row makes each lookup walk all earlier versions: quadratic time (an 835 of
    10,000 claims writes ~100,000 audit rows). Inside a batch an append takes its link from the
    log's tail (one step of the (chain_key, seq) index) and the heads are written once, at the
    end, in the same transaction; a failure rolls the whole batch back. Given `practice_id`, that
    practice's heads are locked once, up front (other chains are locked at each append).
    """
    if _current_batch.get() is not None:
        yield
        return
    with transaction.atomic():
        locked = {}
        if practice_id is not None:
            for model_name in HASHED_FIELDS:
                chain_key = chain_key_for(model_name, practice_id)
                locked[chain_key] = _lock_head(chain_key)
        batch = _Batch(appended={}, locked=locked)
        token = _current_batch.set(batch)
        try:
            yield
        finally:
            _current_batch.reset(token)
        for chain_key, model in batch.appended.items():
            head = _lock_head(chain_key)
            head.seq, head.last_hash = _chain_tail(model, chain_key, head)
            head.save(update_fields=["seq", "last_hash"])


# No savepoint of its own: a failed audit write must fail the caller's transaction anyway, and
# a savepoint per row is two more statements on every audited save.
@transaction.atomic(savepoint=False)
def chain_append(model: type[models.Model], values: dict[str, Any]) -> models.Model:
    """Insert one audit row as the next link of its practice's chain (in the caller's transaction)."""
    model_name = model._meta.model_name
    practice = values.pop("practice", None)
    if practice is not None:
        values["practice_id"] = practice.pk
    for fk in ("actor", "user", "api_token", "content_type"):
        if fk in values:
            obj = values.pop(fk)
            values[f"{fk}_id"] = obj.pk if obj is not None else None
    timestamp_field = "timestamp" if model_name == "auditlogentry" else "occurred_at"
    values.setdefault(timestamp_field, timezone.now())
    for ip_field in ("remote_addr", "ip_address"):
        if values.get(ip_field):
            values[ip_field] = _canonical_ip(values[ip_field])

    chain_key = chain_key_for(model_name, values.get("practice_id"))
    batch = _current_batch.get()
    if batch is None:
        head = _lock_head(chain_key)
        seq, prev_hash = head.seq, head.last_hash
    else:
        head = batch.locked.get(chain_key) or _lock_head(chain_key)
        seq, prev_hash = _chain_tail(model, chain_key, head)
    row = model(chain_key=chain_key, seq=seq + 1, prev_hash=prev_hash, **values)
    if model_name == "auditlogentry":
        _apply_request_context(row)
    as_saved = {name: getattr(row, name) for name in HASHED_FIELDS[model_name]}
    row.entry_hash = entry_digest(model, as_saved, chain_key=chain_key, seq=row.seq, prev_hash=row.prev_hash)
    row.save(force_insert=True)
    if batch is not None:
        batch.appended[chain_key] = model
    else:
        head.seq, head.last_hash = row.seq, row.entry_hash
        head.save(update_fields=["seq", "last_hash"])
    return row


# --- PHI access log ----------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str | None:
    # Behind the production proxy REMOTE_ADDR is set from X-Forwarded-For by gunicorn's
    # --forwarded-allow-ips; never trust the header directly here.
    return request.META.get("REMOTE_ADDR") or None


def access_record(
    *,
    request: HttpRequest,
    action: str,
    target: models.Model | None = None,
    object_type: str | None = None,
    object_id: str = "",
    patient_id: Any = None,
    reason: str = "",
) -> AccessEvent:
    """Write one PHI access event for the current request (who, what, when, from where)."""
    from practice.models import AccessEvent

    practice = getattr(request, "practice", None)
    if practice is None:
        raise ValueError("access_record needs a request inside a practice scope")
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(getattr(target, "public_id", target.pk))
        if patient_id is None:
            patient_id = _patient_public_id(target)
    user = request.user if getattr(request, "user", None) and request.user.is_authenticated else None
    token = getattr(request, "api_token", None)
    api_key = getattr(request, "api_key", None)
    if api_key is not None:  # a practice API key (integrations.ApiKey): named in the reason
        reason = f"{reason} [api key {api_key.public_id}]".strip()
    return chain_append(
        AccessEvent,
        {
            "practice_id": practice.pk,
            "user_id": user.pk if user else None,
            "api_token_id": token.pk if token else None,
            "action": action,
            "object_type": object_type or "",
            "object_id": object_id,
            "patient_id": patient_id,
            "reason": reason,
            "path": request.path[:300],
            "ip_address": client_ip(request),
            "user_agent": request.headers.get("User-Agent", "")[:300],
        },
    )


def _patient_public_id(target: models.Model) -> Any:
    if target._meta.label_lower == "clinical.patient":
        return target.public_id
    patient = getattr(target, "patient", None)
    return getattr(patient, "public_id", None)


class AccessAuditedMixin:
    """For detail views: ``get_object`` records a view event. Set ``access_action`` to change it."""

    access_action = "view"

    def get_object(self, *args: Any, **kwargs: Any) -> models.Model:
        obj = super().get_object(*args, **kwargs)  # type: ignore[misc]
        access_record(request=self.request, action=self.access_action, target=obj)  # type: ignore[attr-defined]
        return obj


# --- Verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    log: str
    chain_key: str
    seq: int | None
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"entry id={self.entry_id} seq={self.seq}" if self.entry_id else f"seq={self.seq}"
        return f"{self.log} chain {self.chain_key}: {where}: {self.reason}"


def _chained_models() -> list[type[models.Model]]:
    from practice.models import AccessEvent, AuditLogEntry

    return [AuditLogEntry, AccessEvent]


def verify_chains() -> Iterator[ChainBreak | tuple[str, int]]:
    """Walk every chain; yield the first break of each broken chain, or (chain_key, n) when intact."""
    from practice.models import AuditChainHead

    heads = {h.chain_key: h for h in AuditChainHead.objects.all()}
    seen: set[str] = set()
    for model in _chained_models():
        model_name = model._meta.model_name
        fields = HASHED_FIELDS[model_name]
        manager = model.all_objects
        chain_keys = manager.values_list("chain_key", flat=True).distinct().order_by("chain_key")
        for chain_key in list(chain_keys):
            seen.add(chain_key)
            problem = _verify_one(model, manager, chain_key, fields, heads.get(chain_key))
            yield problem if problem else (chain_key, manager.filter(chain_key=chain_key).count())
        for chain_key, head in heads.items():
            if chain_key.startswith(f"{model_name}:") and chain_key not in seen and head.seq > 0:
                yield ChainBreak(model_name, chain_key, head.seq, None, "every entry of the chain is missing")


def _verify_one(model, manager, chain_key, fields, head) -> ChainBreak | None:
    model_name = model._meta.model_name
    expected_seq, prev_hash = 1, GENESIS_HASH
    rows = manager.filter(chain_key=chain_key).order_by("seq").values("id", "seq", "prev_hash", "entry_hash", *fields)
    for row in rows.iterator(chunk_size=2000):
        if row["seq"] != expected_seq:
            return ChainBreak(
                model_name,
                chain_key,
                expected_seq,
                row["id"],
                f"entry seq={expected_seq} is missing (next present is seq={row['seq']})",
            )
        if row["prev_hash"] != prev_hash:
            return ChainBreak(model_name, chain_key, row["seq"], row["id"], "link to the previous entry is broken")
        digest = entry_digest(model, row, chain_key=chain_key, seq=row["seq"], prev_hash=row["prev_hash"])
        if digest != row["entry_hash"]:
            return ChainBreak(model_name, chain_key, row["seq"], row["id"], "content does not match its hash (edited)")
        expected_seq, prev_hash = expected_seq + 1, row["entry_hash"]
    last_seq = expected_seq - 1
    if head is None or head.seq != last_seq or head.last_hash != prev_hash:
        head_seq = head.seq if head else 0
        return ChainBreak(
            model_name,
            chain_key,
            head_seq,
            None,
            f"chain ends at seq={last_seq} but its head records seq={head_seq} (newest entries deleted)",
        )
    return None
