"""Export ready claims as 837P files (billing.md §2, §2.1).

One interchange per receiver: the practice's clearinghouse when one is configured, else each payer
(receiver id = the payer id). Control numbers come from the per-practice counters inside the same
transaction that locks and freezes the batch; each file is validated with pyx12 and released only
when valid. A released file moves its claims to submitted; an invalid one is kept (status invalid,
with pyx12's errors) and its claims stay ready. A claim is in exactly one released file.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from billing.control_numbers import next_control_number
from billing.models import BillingProfile, Claim, ClaimEvent, ClaimFile, ClearinghouseConnection, Coverage
from billing.x12_837 import MAX_CLAIMS_PER_TRANSACTION, build_837
from billing.x12_validate import validate_x12
from practice.errors import DomainError
from practice.permissions import Perm

try:  # helper B2's lifecycle service; until it lands, record the transition here
    from billing.services_claims import claim_transition as _claim_transition
except ImportError:  # pragma: no cover - depends on landing order
    _claim_transition = None


@dataclass(frozen=True)
class _Receiver:
    receiver_id: str
    receiver_name: str
    usage_indicator: str
    payer_id: int | None


def claims_for_837(claim_ids: Iterable[int]) -> list[Claim]:
    """Claims with everything the 837 writer reads, in a fixed number of queries."""
    return list(
        Claim.objects.filter(id__in=list(claim_ids))
        .select_related(
            "coverage",
            "patient",
            "payer",
            "rendering__billing_identity",
            "supervising__billing_identity",
            "location",
            "original",
        )
        .prefetch_related(
            "lines",
            Prefetch("patient__coverages", queryset=Coverage.objects.select_related("payer")),
        )
        .order_by("payer_id", "patient_id", "service_date", "id")
    )


def _split_ids(claim_ids: Iterable) -> tuple[list[int], list[uuid.UUID]]:
    pks, public_ids = [], []
    for value in claim_ids:
        if isinstance(value, int):
            pks.append(value)
            continue
        text = str(value)
        if text.isdigit():
            pks.append(int(text))
            continue
        try:
            public_ids.append(uuid.UUID(text))
        except ValueError:
            continue
    return pks, public_ids


def _record_submitted(*, claim: Claim, by, now) -> None:
    if _claim_transition is not None:
        _claim_transition(claim=claim, to=Claim.Status.SUBMITTED, by=by, source="system", note="in an 837 file")
        return
    ClaimEvent.objects.create(
        practice_id=claim.practice_id,
        claim=claim,
        from_status=claim.status,
        to_status=Claim.Status.SUBMITTED,
        by=by,
        source="system",
        note="in an 837 file",
    )
    claim.status = Claim.Status.SUBMITTED
    claim.status_changed_at = now
    claim.save(update_fields=["status", "status_changed_at", "updated_at"])


@transaction.atomic
def claims_export(*, practice, by=None, claim_ids: Iterable | None = None) -> list[ClaimFile]:
    """Write the practice's ready claims (or the given ready ones) not yet in a released file as
    837P files. Returns the files made: status released, or invalid with pyx12's errors (then
    nothing in that file was released and its claims stay ready)."""
    if by is not None and (by.practice_id != practice.id or not by.has_perm(Perm.BILLING_MANAGE)):
        raise DomainError("You do not have permission to export claims.", code="forbidden")
    profile = BillingProfile.objects.filter(practice=practice).first()
    if profile is None:
        raise DomainError("Set up the practice's billing identity before exporting claims.", code="no_profile")
    queryset = Claim.objects.filter(practice=practice, status=Claim.Status.READY, claim_file__isnull=True)
    if claim_ids is not None:
        pks, public_ids = _split_ids(claim_ids)
        queryset = queryset.filter(id__in=pks) | queryset.filter(public_id__in=public_ids)
    # Lock the batch: a concurrent export skips these rows, so no claim lands in two files.
    locked = list(
        queryset.order_by("id").select_for_update(skip_locked=True, of=("self",)).values_list("id", flat=True)
    )
    if not locked:
        return []
    claims = claims_for_837(locked)
    connection = ClearinghouseConnection.objects.filter(practice=practice, is_active=True).first()
    batches: dict[_Receiver, list[Claim]] = {}
    for claim in claims:
        if connection is not None:
            receiver = _Receiver(connection.receiver_id, connection.receiver_name, connection.usage_indicator, None)
        else:
            receiver = _Receiver(
                claim.payer.payer_id[:15],
                claim.payer.name,
                getattr(settings, "TEND_X12_USAGE_INDICATOR", "T"),
                claim.payer_id,
            )
        batches.setdefault(receiver, []).append(claim)
    now = timezone.now()
    files = []
    for receiver, receiver_claims in batches.items():
        for start in range(0, len(receiver_claims), MAX_CLAIMS_PER_TRANSACTION):
            chunk = receiver_claims[start : start + MAX_CLAIMS_PER_TRANSACTION]
            files.append(
                _write_file(practice=practice, profile=profile, receiver=receiver, claims=chunk, by=by, now=now)
            )
    return files


def _write_file(*, practice, profile, receiver: _Receiver, claims: list[Claim], by, now) -> ClaimFile:
    isa13 = next_control_number(practice_id=practice.id, name="isa")
    gs06 = next_control_number(practice_id=practice.id, name="gs")
    st02 = next_control_number(practice_id=practice.id, name="st")
    content = build_837(
        claims=claims,
        profile=profile,
        receiver_id=receiver.receiver_id,
        receiver_name=receiver.receiver_name,
        usage_indicator=receiver.usage_indicator,
        isa13=isa13,
        gs06=gs06,
        st02=st02,
        created_at=timezone.localtime(now),
    )
    ok, errors, _ack = validate_x12(content)
    claim_file = ClaimFile.objects.create(
        practice=practice,
        payer_id=receiver.payer_id,
        receiver_id=receiver.receiver_id[:15],
        interchange_control_number=f"{isa13:09d}",
        group_control_number=str(gs06),
        transaction_control_number=f"{st02:04d}",
        usage_indicator=receiver.usage_indicator,
        filename=f"837P-{isa13:09d}.x12",
        content=content,
        sha256=hashlib.sha256(content.encode("ascii", "replace")).hexdigest(),
        status=ClaimFile.Status.RELEASED if ok else ClaimFile.Status.INVALID,
        validation_errors=errors[:200],
        claim_count=len(claims),
        total_cents=sum(claim.total_cents for claim in claims),
        created_by=by,
    )
    if not ok:
        return claim_file
    for claim in claims:
        _record_submitted(claim=claim, by=by, now=now)
    Claim.objects.filter(id__in=[claim.id for claim in claims]).update(
        claim_file=claim_file, submitted_at=now, updated_at=now
    )
    return claim_file
