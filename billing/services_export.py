"""Export ready claims as 837P files (billing.md §2, §2.1).

One interchange per receiver: the practice's clearinghouse when one is configured, else each payer
(receiver id = the payer id). Control numbers come from the per-practice counters inside the same
transaction that locks and freezes the batch; each file is validated with pyx12 and released only
when valid. A released file moves its claims to submitted; an invalid one is kept (status invalid,
with pyx12's errors) and its claims stay ready. A claim is in exactly one released file.

From the web, an export is a ClaimExportRequest run by a worker (10,000 claims take minutes):
`claims_export_request` queues it, `claims_export_claim` + `claims_export_run` (the task) write the
files and mark it done in the export's own transaction, and `claims_export_requests_to_recover`
(beat) finds the ones whose enqueue was lost or whose worker died.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from billing.control_numbers import next_control_number
from billing.models import (
    BillingProfile,
    Claim,
    ClaimEvent,
    ClaimExportRequest,
    ClaimFile,
    ClearinghouseConnection,
    Coverage,
)
from billing.x12_837 import MAX_CLAIMS_PER_TRANSACTION, build_837
from billing.x12_validate import validate_x12
from practice.errors import DomainError
from practice.permissions import Perm

try:  # helper B2's lifecycle service; until it lands, record the transition here
    from billing.services_claims import claim_transition as _claim_transition
except ImportError:  # pragma: no cover - depends on landing order
    _claim_transition = None

logger = logging.getLogger(__name__)


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


def _require_export_permission(*, practice, by) -> None:
    if by is not None and (by.practice_id != practice.id or not by.has_perm(Perm.BILLING_MANAGE)):
        raise DomainError("You do not have permission to export claims.", code="forbidden")


def _profile(practice) -> BillingProfile:
    profile = BillingProfile.objects.filter(practice=practice).first()
    if profile is None:
        raise DomainError("Set up the practice's billing identity before exporting claims.", code="no_profile")
    return profile


def _ready_claims(*, practice, claim_ids: Iterable | None):
    """Ready claims not yet in a released file (all of them, or those among `claim_ids`: pks or public ids)."""
    queryset = Claim.objects.filter(practice=practice, status=Claim.Status.READY, claim_file__isnull=True)
    if claim_ids is not None:
        pks, public_ids = _split_ids(claim_ids)
        queryset = queryset.filter(id__in=pks) | queryset.filter(public_id__in=public_ids)
    return queryset


def _file_delay_for_tests() -> None:
    # Test-only: the worker kill test slows each file so it can kill a worker mid-export. 0 in production.
    delay = float(getattr(settings, "TEND_CLAIM_EXPORT_TEST_FILE_DELAY", 0) or 0)
    if delay > 0:
        time.sleep(delay)


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
    _require_export_permission(practice=practice, by=by)
    profile = _profile(practice)
    queryset = _ready_claims(practice=practice, claim_ids=claim_ids)
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
            _file_delay_for_tests()
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


# --- Export requests: the web's export, written by a worker ------------------------------------

EXPORT_MAX_ATTEMPTS = 3
OPEN_EXPORT = (ClaimExportRequest.Status.QUEUED, ClaimExportRequest.Status.RUNNING)
# A queued request older than this has lost its task message (broker down at enqueue): queue it again.
QUEUED_RECOVER_AFTER = timedelta(minutes=2)


class ExportAlreadyRunning(DomainError):
    """The practice has an export queued or running; `request` is that one."""

    def __init__(self, request: ClaimExportRequest) -> None:
        super().__init__(
            "An 837 export is already running. Its files appear on the EDI files page when written; "
            "export again once it has finished.",
            code="export_running",
        )
        self.request = request


def export_lease() -> timedelta:
    """How long a running request may go without finishing before the recovery job runs it again.

    A live export holds its request row locked (FOR UPDATE) for its whole transaction and every
    claim of the row skips locked rows, so a slow export is never run twice whatever its length:
    the lease only decides how soon a dead worker's request (its lock gone with its connection) is
    retried."""
    return timedelta(seconds=int(getattr(settings, "TEND_CLAIM_EXPORT_LEASE_SECONDS", 600)))


def _enqueue(export_request: ClaimExportRequest) -> None:
    from billing.tasks_export import claims_export_run_task

    practice_id, request_id = export_request.practice_id, export_request.pk
    transaction.on_commit(lambda: claims_export_run_task.delay(practice_id=practice_id, request_id=request_id))


@transaction.atomic
def claims_export_request(*, practice, by, claim_ids: Iterable | None = None) -> ClaimExportRequest:
    """Queue an export of the practice's ready claims (or the ready ones among `claim_ids`). One
    at a time per practice: while one is queued or running, ExportAlreadyRunning."""
    _require_export_permission(practice=practice, by=by)
    _profile(practice)
    running = ClaimExportRequest.objects.filter(practice=practice, status__in=OPEN_EXPORT).first()
    if running is not None:
        raise ExportAlreadyRunning(running)
    ready = _ready_claims(practice=practice, claim_ids=claim_ids)
    chosen = None if claim_ids is None else [str(p) for p in ready.order_by("id").values_list("public_id", flat=True)]
    if not (chosen if chosen is not None else ready.exists()):
        raise DomainError("No ready claims to export.", code="nothing_ready")
    try:
        with transaction.atomic():
            export_request = ClaimExportRequest.objects.create(practice=practice, requested_by=by, claim_ids=chosen)
    except IntegrityError:  # another click won the one open slot (claimexportrequest_one_open_per_practice)
        raise ExportAlreadyRunning(
            ClaimExportRequest.objects.filter(practice=practice, status__in=OPEN_EXPORT).first()
        ) from None
    _enqueue(export_request)
    return export_request


def claims_export_claim(*, request_id: int) -> int | None:
    """Take the request for this worker: queued, or running past its lease (its worker died).
    Returns this run's attempt number, or None when there is nothing to do (done, failed, or
    being written by a live worker: its row is locked and skipped)."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            ClaimExportRequest.objects.select_for_update(skip_locked=True)
            .filter(pk=request_id)
            .filter(
                Q(status=ClaimExportRequest.Status.QUEUED)
                | Q(status=ClaimExportRequest.Status.RUNNING, started_at__lt=now - export_lease())
            )
            .first()
        )
        if row is None:
            return None
        if row.attempts >= EXPORT_MAX_ATTEMPTS:
            row.status, row.finished_at = ClaimExportRequest.Status.FAILED, now
            row.error = (
                f"The export did not finish after {row.attempts} attempts. No files were written and the "
                "claims are still ready: export again, and contact support if it keeps happening."
            )
            row.save(update_fields=["status", "finished_at", "error", "updated_at"])
            logger.error("claim export request %s gave up after %s attempts", row.pk, row.attempts)
            return None
        ClaimExportRequest.objects.filter(pk=row.pk, status=row.status, attempts=row.attempts).update(
            status=ClaimExportRequest.Status.RUNNING, attempts=F("attempts") + 1, started_at=now, updated_at=now
        )
        return row.attempts + 1


def claims_export_run(*, request_id: int, attempt: int) -> ClaimExportRequest | None:
    """Write the claimed request's files and mark it done in ONE transaction, so a killed worker
    leaves neither files nor a done request; failed with the reason on a DomainError. None when
    the request is no longer this attempt's (a later run took it over)."""
    this_run = {"pk": request_id, "status": ClaimExportRequest.Status.RUNNING, "attempts": attempt}
    try:
        with transaction.atomic():
            row = (
                ClaimExportRequest.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("practice", "requested_by")
                .filter(**this_run)
                .first()
            )
            if row is None:
                return None
            files = claims_export(practice=row.practice, by=row.requested_by, claim_ids=row.claim_ids)
            row.files.set(files)
            row.claims_count = sum(f.claim_count for f in files if f.status == ClaimFile.Status.RELEASED)
            row.status, row.finished_at, row.error = ClaimExportRequest.Status.DONE, timezone.now(), ""
            row.save(update_fields=["claims_count", "status", "finished_at", "error", "updated_at"])
            return row
    except DomainError as exc:
        ClaimExportRequest.objects.filter(**this_run).update(
            status=ClaimExportRequest.Status.FAILED, error=exc.message, finished_at=timezone.now()
        )
        return ClaimExportRequest.objects.get(pk=request_id)
    except Exception:
        # Unexpected (a bug, a lost database): back to queued so the recovery job retries it soon,
        # within EXPORT_MAX_ATTEMPTS. If even this fails, the lease brings it back.
        ClaimExportRequest.objects.filter(**this_run).update(status=ClaimExportRequest.Status.QUEUED)
        raise


def claims_export_requests_to_recover(*, now=None) -> list[tuple[int, int]]:
    """(practice id, request id) of every practice's requests a worker should (re)run: queued
    for over QUEUED_RECOVER_AFTER, or running past the lease and not locked by a live export.
    Only ids cross practices here (the beat job has no practice of its own)."""
    now = now or timezone.now()
    with transaction.atomic():
        return list(
            ClaimExportRequest.all_objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=ClaimExportRequest.Status.QUEUED, created_at__lt=now - QUEUED_RECOVER_AFTER)
                | Q(status=ClaimExportRequest.Status.RUNNING, started_at__lt=now - export_lease())
            )
            .order_by("id")
            .values_list("practice_id", "pk")
        )
