"""The full practice export: a zip of FHIR R4 NDJSON (one file per resource type) plus CSV of the
scheduling and billing data and a manifest, built by Celery, stored privately (MEDIA_ROOT, never
a public path), downloadable once by an owner and deleted after the download or after 7 days.

Rows are streamed in chunks (``iterator``) straight into the zip entry, so memory stays bounded
whatever the practice's size. The patients, appointments and balances CSV files use the CSV
import's template columns, so an export can be imported into another practice (round trip).

Psychotherapy notes are never exported (HIPAA treats them separately): there is no FHIR builder
for them and no CSV reads them. Progress-note text is not in this export either (charts are
exported one patient at a time from the chart).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.core.files import File
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from integrations.csv_import import template_columns
from integrations.models import ExportJob, ImportJob
from practice.errors import DomainError
from practice.permissions import Perm

if TYPE_CHECKING:
    from practice.models import Membership

logger = logging.getLogger(__name__)

CHUNK = 2000
KEEP_FOR = timedelta(days=7)
FORMAT_VERSION = 1


class ExportGone(DomainError):
    """The export was downloaded already or has expired (the view answers 410 Gone)."""

    status_code = 410

    def __init__(self, message: str) -> None:
        super().__init__(message, code="gone")


def _require(by: Membership) -> None:
    if not by.is_active or not by.has_perm(Perm.DATA_EXPORT):
        raise DomainError("Only an owner may export the practice's data.", code="forbidden")


# --- Request, download, purge (services) -------------------------------------------------------


@transaction.atomic
def export_request(*, by: Membership) -> ExportJob:
    """Queue a new export. One at a time per practice: a queued or building one is returned."""
    _require(by)
    exports_purge_expired()
    running = (
        ExportJob.objects.select_for_update()
        .filter(status__in=(ExportJob.Status.PENDING, ExportJob.Status.BUILDING))
        .first()
    )
    if running is not None:
        return running
    job = ExportJob.objects.create(practice_id=by.practice_id, requested_by=by)
    practice_id, export_id = job.practice_id, job.pk

    def queue() -> None:
        from integrations.tasks_data import export_build_task

        export_build_task.delay(practice_id=practice_id, export_id=export_id)

    transaction.on_commit(queue)
    return job


@transaction.atomic
def export_claim_download(*, job: ExportJob, by: Membership) -> File:
    """Claim the one download (a conditional UPDATE: two clicks cannot both win), open the file
    and delete it from storage; the open handle is what the response streams."""
    _require(by)
    if job.status == ExportJob.Status.READY and job.created_at < timezone.now() - KEEP_FOR:
        _expire(job)
        raise ExportGone("This export expired after 7 days and was deleted. Request a new one.")
    now = timezone.now()
    claimed = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.READY).update(
        status=ExportJob.Status.DOWNLOADED, downloaded_at=now, downloaded_by=by, updated_at=now
    )
    if claimed != 1:
        job.refresh_from_db()
        if job.status == ExportJob.Status.DOWNLOADED:
            raise ExportGone(
                "This export was already downloaded"
                + (f" on {timezone.localtime(job.downloaded_at):%b %-d, %Y at %H:%M}" if job.downloaded_at else "")
                + ". Each export can be downloaded once; request a new one."
            )
        raise ExportGone("This export is not available. Request a new one.")
    storage, name = job.file.storage, job.file.name
    handle = storage.open(name, "rb")
    # POSIX keeps an unlinked file readable through its open handle; the bytes are gone from
    # storage once the response has streamed them (or the download broke off: request again).
    transaction.on_commit(lambda: _delete_file(storage, name))
    ExportJob.objects.filter(pk=job.pk).update(file="")
    return File(handle, name=name.rsplit("/", 1)[-1])


def _delete_file(storage: Any, name: str) -> None:
    try:
        if name and storage.exists(name):
            storage.delete(name)
    except OSError:
        logger.exception("export file %s could not be deleted", name)


def _expire(job: ExportJob) -> None:
    name, storage = job.file.name, job.file.storage
    updated = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.READY).update(
        status=ExportJob.Status.FAILED, error="Expired after 7 days without a download; deleted.", file=""
    )
    if updated:
        transaction.on_commit(lambda: _delete_file(storage, name))


def exports_purge_expired() -> int:
    """Delete the files of ready exports older than 7 days (in the active scope, or every
    practice when the caller disabled scopes). Returns how many were purged."""
    cutoff = timezone.now() - KEEP_FOR
    count = 0
    for job in ExportJob.objects.filter(status=ExportJob.Status.READY, created_at__lt=cutoff):
        with transaction.atomic():
            _expire(job)
        count += 1
    return count


# --- Building the zip (task body) ---------------------------------------------------------------


def export_build(*, export_id: int) -> ExportJob | None:
    """Claim a queued export (PENDING -> BUILDING) and write its zip. A second delivery finds it
    claimed and does nothing; a failure marks the job failed with the reason."""
    claimed = ExportJob.objects.filter(pk=export_id, status=ExportJob.Status.PENDING).update(
        status=ExportJob.Status.BUILDING, updated_at=timezone.now()
    )
    if claimed != 1:
        return None
    job = ExportJob.objects.select_related("practice").get(pk=export_id)
    try:
        with tempfile.TemporaryFile() as tmp:
            counts = write_export_zip(tmp, practice=job.practice, job=job)
            tmp.seek(0)
            digest = hashlib.sha256()
            for block in iter(lambda: tmp.read(1024 * 1024), b""):
                digest.update(block)
            size = tmp.tell()
            tmp.seek(0)
            stamp = timezone.localtime(timezone.now(), ZoneInfo(job.practice.timezone))
            name = f"tend-export-{job.practice.slug}-{stamp:%Y%m%d-%H%M}-{job.public_id.hex[:8]}.zip"
            job.file.save(name, File(tmp), save=False)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.READY,
            file=job.file.name,
            size_bytes=size,
            sha256=digest.hexdigest(),
            counts=counts,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    except Exception as exc:
        logger.exception("export %s failed", export_id)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED,
            error=f"The export could not be built ({type(exc).__name__}). Try again.",
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    return job


def write_export_zip(fileobj: Any, *, practice: Any, job: ExportJob | None = None) -> dict[str, int]:
    """Write every file of the export into ``fileobj`` (inside the practice's scope)."""
    counts: dict[str, int] = {}
    generated_at = timezone.now()
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, resources in _fhir_files():
            counts[name] = _write_ndjson(zf, name, resources)
        for name, header, rows in _csv_files(practice):
            counts[name] = _write_csv(zf, name, header, rows)
        manifest = _manifest(practice=practice, job=job, counts=counts, generated_at=generated_at)
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        zf.writestr("README.txt", _readme(manifest))
    return counts


def _write_ndjson(zf: zipfile.ZipFile, name: str, resources: Iterable[dict]) -> int:
    count = 0
    with zf.open(name, "w", force_zip64=True) as raw:
        for resource in resources:
            raw.write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
            count += 1
    return count


def _write_csv(zf: zipfile.ZipFile, name: str, header: list[str], rows: Iterable[list[Any]]) -> int:
    count = 0
    with zf.open(name, "w", force_zip64=True) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
            count += 1
    return count


def _cell(value: Any) -> str:
    """Plain text for a CSV cell. A text starting like a spreadsheet formula gets a leading
    apostrophe (the import takes it off again); numbers are left alone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if (text and text[0] in "=+@\t\r") or (text.startswith("-") and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


# --- FHIR ----------------------------------------------------------------------------------------


def _fhir_files() -> Iterator[tuple[str, Iterator[dict]]]:
    from assessments.library import INSTRUMENTS, instrument_or_none
    from assessments.models import Response
    from integrations.fhir import resources as r
    from integrations.fhir import selectors as s

    yield "fhir/Patient.ndjson", (r.patient_resource(p) for p in s.fhir_patients().iterator(chunk_size=CHUNK))
    yield (
        "fhir/Practitioner.ndjson",
        (r.practitioner_resource(m) for m in s.fhir_practitioners().iterator(chunk_size=CHUNK)),
    )
    yield (
        "fhir/Appointment.ndjson",
        (r.appointment_resource(a) for a in s.fhir_appointments().iterator(chunk_size=CHUNK)),
    )
    used = set(Response.objects.values_list("instrument_code", flat=True).distinct())
    instruments = [INSTRUMENTS[c] for c in sorted(INSTRUMENTS)] + [
        i for c in sorted(used - set(INSTRUMENTS)) if (i := instrument_or_none(c)) is not None
    ]
    yield "fhir/Questionnaire.ndjson", (r.questionnaire_resource(i) for i in instruments)
    yield (
        "fhir/QuestionnaireResponse.ndjson",
        (r.questionnaire_response_resource(resp) for resp in s.fhir_responses().iterator(chunk_size=CHUNK)),
    )
    yield (
        "fhir/Observation.ndjson",
        (obs for resp in s.fhir_responses().iterator(chunk_size=CHUNK) for obs in r.observation_resources(resp)),
    )


# --- CSV -----------------------------------------------------------------------------------------


def _money(value: Any) -> str:
    return f"{Decimal(value or 0):.2f}"


def _cents(cents: int | None) -> str:
    return f"{Decimal(cents or 0) / 100:.2f}"


def _csv_files(practice: Any) -> Iterator[tuple[str, list[str], Iterator[list[Any]]]]:
    zone = ZoneInfo(practice.timezone)
    yield "csv/patients.csv", template_columns(ImportJob.Kind.PATIENTS), _patient_rows()
    yield "csv/appointments.csv", template_columns(ImportJob.Kind.APPOINTMENTS), _appointment_rows(zone)
    yield "csv/balances.csv", template_columns(ImportJob.Kind.BALANCES), _balance_rows(practice)
    yield "csv/claims.csv", CLAIM_COLUMNS, _claim_rows()
    yield "csv/claim_lines.csv", CLAIM_LINE_COLUMNS, _claim_line_rows()
    yield "csv/payments.csv", PAYMENT_COLUMNS, _payment_rows()
    yield "csv/ledger_entries.csv", LEDGER_COLUMNS, _ledger_rows()
    yield "csv/statements.csv", STATEMENT_COLUMNS, _statement_rows()


def _patient_rows() -> Iterator[list[Any]]:
    from clinical.models import Patient

    queryset = Patient.objects.select_related("primary_clinician__user").order_by("id")
    for p in queryset.iterator(chunk_size=CHUNK):
        values = {
            "external_id": p.public_id,
            "first_name": p.legal_first_name,
            "middle_name": p.legal_middle_name,
            "last_name": p.legal_last_name,
            "preferred_name": p.preferred_name,
            "date_of_birth": p.date_of_birth.isoformat(),
            "sex": p.sex_assigned_at_birth,
            "gender_identity": p.gender_identity,
            "pronouns": p.pronouns,
            "email": p.email,
            "phone": p.phone,
            "address_line1": p.address_line1,
            "address_line2": p.address_line2,
            "city": p.city,
            "state": p.state,
            "postal_code": p.postal_code,
            "guardian_name": p.guardian_name,
            "guardian_phone": p.guardian_phone,
            "guardian_email": p.guardian_email,
            "emergency_contact_name": p.emergency_contact_name,
            "emergency_contact_phone": p.emergency_contact_phone,
            "primary_clinician_email": p.primary_clinician.user.email if p.primary_clinician else "",
            "mrn": p.mrn,
            "status": p.status,
        }
        yield [values[c] for c in template_columns(ImportJob.Kind.PATIENTS)]


def _appointment_rows(practice_zone: ZoneInfo) -> Iterator[list[Any]]:
    from django.db.models import Prefetch

    from scheduling.models import Appointment, Attendee

    queryset = (
        Appointment.objects.select_related("clinician__user", "appointment_type", "location")
        .prefetch_related(Prefetch("attendees", queryset=Attendee.objects.select_related("patient").order_by("id")))
        .order_by("starts_at", "id")
    )
    for a in queryset.iterator(chunk_size=CHUNK):
        zone = ZoneInfo(a.location.timezone) if a.location else practice_zone
        attendees = list(a.attendees.all())
        for n, attendee in enumerate(attendees or [None]):
            values = {
                # A group appointment gives one row per attendee (re-imported as separate visits).
                "external_id": a.public_id if n == 0 else f"{a.public_id}-{n + 1}",
                "patient_external_id": attendee.patient.public_id if attendee else "",
                "clinician_email": a.clinician.user.email,
                "start": a.starts_at.astimezone(zone).isoformat(),
                "end": a.ends_at.astimezone(zone).isoformat(),
                "duration_minutes": a.duration_minutes,
                "appointment_type": a.appointment_type.name,
                "location": a.location.name if a.location else "",
                "status": a.status,
                "telehealth": a.is_telehealth,
            }
            yield [values[c] for c in template_columns(ImportJob.Kind.APPOINTMENTS)]


def _balance_rows(practice: Any) -> Iterator[list[Any]]:
    """One row per patient and responsibility with a non-zero balance today (ledger sums)."""
    from billing.models import LedgerAccount, LedgerEntry

    today = timezone.localdate(timezone=ZoneInfo(practice.timezone))
    sums = (
        LedgerEntry.objects.exclude(patient=None)
        .filter(account__in=(LedgerAccount.PATIENT_AR, LedgerAccount.PATIENT_CREDIT, LedgerAccount.INSURANCE_AR))
        .values("patient__public_id", "account")
        .annotate(total=Sum("amount"))
        .order_by("patient__public_id", "account")
    )
    per_patient: dict[Any, dict[str, Decimal]] = {}
    for row in sums.iterator(chunk_size=CHUNK):
        side = "insurance" if row["account"] == LedgerAccount.INSURANCE_AR else "patient"
        totals = per_patient.setdefault(row["patient__public_id"], {"patient": Decimal(0), "insurance": Decimal(0)})
        totals[side] += Decimal(str(row["total"] or 0))
    for public_id, totals in per_patient.items():
        for side in ("patient", "insurance"):
            amount = totals[side].quantize(Decimal("0.01"))
            if amount:
                values = {
                    "patient_external_id": public_id,
                    "amount": f"{amount:.2f}",
                    "as_of": today.isoformat(),
                    "responsibility": side,
                    "memo": f"Balance exported from Tend on {today.isoformat()}",
                }
                yield [values[c] for c in template_columns(ImportJob.Kind.BALANCES)]


CLAIM_COLUMNS = [
    "claim_id",
    "patient_external_id",
    "payer_name",
    "payer_id",
    "member_id",
    "service_date",
    "status",
    "frequency",
    "control_number",
    "payer_claim_number",
    "original_claim_id",
    "rendering_email",
    "place_of_service",
    "diagnosis_codes",
    "total_charge",
    "submitted_at",
]


def _claim_rows() -> Iterator[list[Any]]:
    from billing.models import Claim

    queryset = Claim.objects.select_related("patient", "payer", "coverage", "original", "rendering__user").order_by(
        "id"
    )
    for c in queryset.iterator(chunk_size=CHUNK):
        yield [
            c.public_id,
            c.patient.public_id,
            c.payer.name,
            c.payer.payer_id,
            c.coverage.member_id,
            c.service_date.isoformat(),
            c.status,
            c.frequency,
            c.control_number,
            c.payer_claim_number,
            c.original.public_id if c.original else "",
            c.rendering.user.email if c.rendering else "",
            c.place_of_service,
            ";".join(c.diagnosis_codes or []),
            _cents(c.total_cents),
            c.submitted_at.isoformat() if c.submitted_at else "",
        ]


CLAIM_LINE_COLUMNS = [
    "claim_id",
    "line_number",
    "service_date",
    "cpt",
    "modifiers",
    "units",
    "charge",
    "minutes",
    "diagnosis_pointers",
    "place_of_service",
]


def _claim_line_rows() -> Iterator[list[Any]]:
    from billing.models import ClaimLine

    for line in (
        ClaimLine.objects.select_related("claim").order_by("claim_id", "line_number").iterator(chunk_size=CHUNK)
    ):
        yield [
            line.claim.public_id,
            line.line_number,
            line.service_date.isoformat(),
            line.cpt,
            ";".join(line.modifiers or []),
            line.units,
            _cents(line.charge_cents),
            line.minutes or "",
            ";".join(str(p) for p in line.diagnosis_pointers or []),
            line.place_of_service,
        ]


PAYMENT_COLUMNS = [
    "payment_id",
    "patient_external_id",
    "kind",
    "amount",
    "method",
    "reference",
    "received_on",
    "is_copay",
    "note",
]


def _payment_rows() -> Iterator[list[Any]]:
    from billing.models import PatientPayment

    for p in PatientPayment.objects.select_related("patient").order_by("id").iterator(chunk_size=CHUNK):
        yield [
            p.public_id,
            p.patient.public_id,
            p.kind,
            _money(p.amount),
            p.method,
            p.reference,
            p.received_on.isoformat(),
            p.is_copay,
            p.note,
        ]


LEDGER_COLUMNS = [
    "transaction_id",
    "kind",
    "occurred_on",
    "account",
    "amount",
    "patient_external_id",
    "payer_name",
    "claim_id",
    "adjustment_group",
    "adjustment_reason",
    "memo",
]


def _ledger_rows() -> Iterator[list[Any]]:
    from billing.models import LedgerEntry

    queryset = LedgerEntry.objects.select_related("transaction", "patient", "payer", "claim").order_by(
        "transaction_id", "id"
    )
    for e in queryset.iterator(chunk_size=CHUNK):
        yield [
            e.transaction.public_id,
            e.transaction.kind,
            e.occurred_on.isoformat(),
            e.account,
            _money(e.amount),
            e.patient.public_id if e.patient else "",
            e.payer.name if e.payer else "",
            e.claim.public_id if e.claim else "",
            e.adjustment_group,
            e.adjustment_reason,
            e.transaction.memo,
        ]


STATEMENT_COLUMNS = ["statement_id", "patient_external_id", "period_start", "period_end", "balance_due", "issued_on"]


def _statement_rows() -> Iterator[list[Any]]:
    from billing.models import Statement

    for s in Statement.objects.select_related("patient").order_by("id").iterator(chunk_size=CHUNK):
        yield [
            s.public_id,
            s.patient.public_id,
            s.period_start.isoformat(),
            s.period_end.isoformat(),
            _money(s.balance_due),
            s.issued_on.isoformat(),
        ]


# --- Manifest and README -------------------------------------------------------------------------

EXCLUDED = {
    "psychotherapy_notes": (
        "Not included. HIPAA treats psychotherapy notes separately (45 CFR 164.501, 164.508(a)(2)); "
        "they never leave Tend in a bulk export."
    ),
    "progress_notes": "Note text is not included; export a patient's chart from the chart page.",
    "documents": "Uploaded documents and attachments are not included.",
    "audit_logs": "The audit trail is exported separately (Practice → Audit log).",
}


def _manifest(*, practice: Any, job: ExportJob | None, counts: dict[str, int], generated_at: Any) -> dict:
    return {
        "format": "tend-practice-export",
        "format_version": FORMAT_VERSION,
        "practice": {"name": practice.name, "slug": practice.slug, "timezone": practice.timezone},
        "export_id": str(job.public_id) if job else None,
        "generated_at": generated_at.isoformat(),
        "fhir_version": "4.0.1",
        "counts": counts,
        "files": {
            "fhir/*.ndjson": "FHIR R4 resources, one JSON object per line (NDJSON), ids are Tend public ids.",
            "csv/patients.csv": "Same columns as the CSV import's patients template; external_id is the Tend id.",
            "csv/appointments.csv": (
                "Same columns as the appointments import template; start/end are ISO 8601 with the "
                "location's UTC offset. A group appointment has one row per attendee."
            ),
            "csv/balances.csv": (
                "Same columns as the opening-balances import template: each patient's patient balance "
                "(receivable minus credit) and insurance balance today, in dollars."
            ),
            "csv/claims.csv, csv/claim_lines.csv": "Claims and their service lines (amounts in dollars).",
            "csv/payments.csv": "Patient payments and refunds.",
            "csv/ledger_entries.csv": "Every ledger entry (double entry: debits positive, credits negative).",
            "csv/statements.csv": "Patient statements issued.",
        },
        "csv_notes": (
            "UTF-8, comma-separated, header row first. A text value that would start a spreadsheet "
            "formula (=, +, -, @) is written with a leading apostrophe."
        ),
        "excluded": EXCLUDED,
    }


def _readme(manifest: dict) -> str:
    lines = [
        f"Tend practice export: {manifest['practice']['name']}",
        f"Generated at {manifest['generated_at']} (format version {manifest['format_version']}).",
        "",
        "What is inside:",
        *[f"  {name}: {text}" for name, text in manifest["files"].items()],
        "",
        "Row counts:",
        *[f"  {name}: {n}" for name, n in manifest["counts"].items()],
        "",
        "Not included:",
        *[f"  {name.replace('_', ' ')}: {text}" for name, text in manifest["excluded"].items()],
        "",
        manifest["csv_notes"],
        "",
        "This file holds protected health information. Store it encrypted and delete it when done.",
    ]
    return "\n".join(lines) + "\n"
