"""CSV import from another system: patients, appointments and opening balances.

Steps: upload (size limit, UTF-8 with or without BOM, delimiter sniffed) → column mapping
(suggested from header names; required fields must be mapped) → dry run → import. The dry run
and the import are the same code: every row goes through the real services (patient_create /
patient_update, appointment_book / reschedule / the status flow, charge and ledger postings)
inside one transaction. The dry run always rolls back; the import rolls back when any row failed,
so it is all or nothing. ExternalRecord (kind, external id) → our row's public_id makes a re-run
update changed rows and report unchanged ones instead of duplicating them.

Row numbers count the header as row 1 (as a spreadsheet shows them).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from integrations.models import ExternalRecord, ImportJob
from practice.errors import DomainError
from practice.permissions import Perm

if TYPE_CHECKING:
    from clinical.models import Patient
    from practice.models import Membership

Kind = ImportJob.Kind
DEFAULT_MAX_BYTES = 25 * 1024 * 1024  # 20,000 patients with every column is about 5 MB
PROGRESS_EVERY = 100
MAX_REPORTED_ERRORS = 500
# A patient row makes one service call, which has its own savepoint: a failing row leaves nothing
# behind, so no second savepoint per row (each is a PostgreSQL subtransaction in one long
# transaction). Appointment and balance rows make several calls and get a savepoint each.
SINGLE_WRITE_KINDS = (Kind.PATIENTS,)
QUEUED = {"state": "queued"}
RUNNING = {"state": "running"}


@dataclass(frozen=True)
class Column:
    name: str  # our field, also the template's header
    label: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""


PATIENT_COLUMNS: tuple[Column, ...] = (
    Column("external_id", "External id", True, ("id", "patient id", "client id", "chart number", "record id")),
    Column("first_name", "Legal first name", True, ("first", "given name", "firstname", "legal first name")),
    Column("middle_name", "Middle name", False, ("middle", "middle initial")),
    Column("last_name", "Legal last name", True, ("last", "surname", "family name", "lastname", "legal last name")),
    Column("preferred_name", "Preferred name", False, ("nickname", "goes by")),
    Column(
        "date_of_birth",
        "Date of birth",
        True,
        ("dob", "birth date", "birthdate", "birthday"),
        "YYYY-MM-DD or MM/DD/YYYY",
    ),
    Column(
        "sex",
        "Sex assigned at birth",
        False,
        ("sex at birth", "gender", "sex assigned at birth"),
        "female, male, intersex, unknown, declined (or F/M/U)",
    ),
    Column("gender_identity", "Gender identity", False, ("gender identity",)),
    Column("pronouns", "Pronouns", False, ()),
    Column("email", "Email", False, ("email address", "e-mail")),
    Column("phone", "Phone", False, ("phone number", "mobile", "cell", "home phone", "telephone")),
    Column("address_line1", "Address line 1", False, ("address", "street", "address 1", "street address")),
    Column("address_line2", "Address line 2", False, ("address 2", "apt", "suite")),
    Column("city", "City", False, ("town",)),
    Column("state", "State", False, ("st", "state code", "province"), "Two letters, e.g. OR"),
    Column("postal_code", "ZIP code", False, ("zip", "zip code", "postcode", "postal")),
    Column(
        "guardian_name", "Guardian name", False, ("parent", "guardian", "parent name"), "Required for patients under 18"
    ),
    Column("guardian_phone", "Guardian phone", False, ("parent phone",)),
    Column("guardian_email", "Guardian email", False, ("parent email",)),
    Column("emergency_contact_name", "Emergency contact", False, ("emergency contact", "emergency name")),
    Column("emergency_contact_phone", "Emergency contact phone", False, ("emergency phone",)),
    Column(
        "primary_clinician_email",
        "Primary clinician (email)",
        False,
        ("clinician", "provider", "therapist", "clinician email", "provider email"),
    ),
    Column("mrn", "MRN", False, ("medical record number", "mrn"), "Optional: kept when free, else Tend assigns one"),
    Column("status", "Status", False, ("patient status",), "active, waitlisted or discharged"),
)

APPOINTMENT_COLUMNS: tuple[Column, ...] = (
    Column("external_id", "External id", True, ("id", "appointment id", "visit id", "event id")),
    Column("patient_external_id", "Patient external id", True, ("patient id", "client id", "patient", "client")),
    Column("clinician_email", "Clinician (email)", True, ("clinician", "provider", "therapist", "provider email")),
    Column(
        "start",
        "Start",
        True,
        ("start time", "starts at", "date time", "datetime", "begins", "appointment start"),
        "YYYY-MM-DD HH:MM (the location's time) or ISO 8601 with offset",
    ),
    Column("end", "End", False, ("end time", "ends at", "finish"), "Leave empty to use the duration"),
    Column("duration_minutes", "Duration (minutes)", False, ("duration", "length", "minutes")),
    Column("appointment_type", "Appointment type", True, ("type", "service", "visit type", "appointment type")),
    Column("location", "Location", False, ("office", "site", "location name")),
    Column(
        "status",
        "Status",
        False,
        ("appointment status", "state"),
        "scheduled, confirmed, arrived, completed, cancelled, late_cancelled, no_show",
    ),
    Column("telehealth", "Telehealth", False, ("virtual", "video", "is telehealth"), "yes / no"),
)

BALANCE_COLUMNS: tuple[Column, ...] = (
    Column("patient_external_id", "Patient external id", True, ("patient id", "client id", "patient", "client")),
    Column(
        "amount",
        "Amount",
        True,
        ("balance", "balance due", "amount due", "opening balance"),
        "Dollars, e.g. 125.00 (negative = credit)",
    ),
    Column("as_of", "As of date", True, ("as of", "date", "balance date", "as-of date")),
    Column(
        "responsibility",
        "Responsibility",
        False,
        ("type", "balance type", "payer type"),
        "patient (default) or insurance",
    ),
    Column("memo", "Memo", False, ("note", "description", "comment")),
)

COLUMNS: dict[str, tuple[Column, ...]] = {
    Kind.PATIENTS: PATIENT_COLUMNS,
    Kind.APPOINTMENTS: APPOINTMENT_COLUMNS,
    Kind.BALANCES: BALANCE_COLUMNS,
}


def template_columns(kind: str) -> list[str]:
    """The header row of a kind's template; the full export writes the same columns."""
    return [c.name for c in COLUMNS[kind]]


def template_csv(kind: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(template_columns(kind))
    return out.getvalue()


# --- Reading the file ---------------------------------------------------------------------------


def decode_upload(data: bytes) -> str:
    """UTF-8, with or without a byte-order mark. Anything else is refused with a hint."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DomainError(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8' and upload it again.", field="file"
        ) from exc
    if "\x00" in text:
        raise DomainError("The file is not a CSV text file.", field="file")
    return text


def sniff_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    sample = text[: 64 * 1024]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _reader(text: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), sniff_dialect(text))


def read_headers(text: str) -> list[str]:
    try:
        headers = next(_reader(text), [])
    except csv.Error as exc:
        raise DomainError(f"The file could not be read as CSV: {exc}.", field="file") from exc
    headers = [h.strip() for h in headers]
    if not any(headers):
        raise DomainError("The file is empty: the first line must name the columns.", field="file")
    seen = Counter(h.lower() for h in headers if h)
    twice = sorted(h for h, n in seen.items() if n > 1)
    if twice:
        raise DomainError(f"Two columns have the same name: {', '.join(twice)}.", field="file")
    return headers


def iter_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(row number counting the header as 1, cells) for every non-blank data row."""
    reader = _reader(text)
    next(reader, None)
    for number, cells in enumerate(reader, start=2):
        if any(c.strip() for c in cells):
            yield number, cells


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def suggest_mapping(kind: str, headers: list[str]) -> dict[str, str]:
    """Our field -> their column: exact name or alias first, then the closest name (ratio ≥ 0.8)."""
    by_norm = {_norm(h): h for h in headers if h}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in COLUMNS[kind]:
        for candidate in (column.name, column.label, *column.aliases):
            found = by_norm.get(_norm(candidate))
            if found and found not in used:
                mapping[column.name], _ = found, used.add(found)
                break
    for column in COLUMNS[kind]:
        if column.name in mapping:
            continue
        free = [n for n, h in by_norm.items() if h not in used]
        best = difflib.get_close_matches(_norm(column.name), free, n=1, cutoff=0.8) or difflib.get_close_matches(
            _norm(column.label), free, n=1, cutoff=0.8
        )
        if best:
            mapping[column.name] = by_norm[best[0]]
            used.add(by_norm[best[0]])
    return mapping


# --- Job steps (services) -----------------------------------------------------------------------


def max_upload_bytes() -> int:
    return getattr(settings, "TEND_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)


def _require(by: Membership) -> None:
    if not by.is_active or not by.has_perm(Perm.DATA_IMPORT):
        raise DomainError("Your role does not allow importing data.", code="forbidden")


@transaction.atomic
def import_job_create(*, by: Membership, kind: str, filename: str, data: bytes) -> ImportJob:
    """Store an uploaded CSV with its headers, row count and a suggested mapping."""
    _require(by)
    if kind not in Kind.values:
        raise DomainError("Choose what the file contains.", field="kind")
    limit = max_upload_bytes()
    if len(data) > limit:
        raise DomainError(
            f"The file is larger than {limit // (1024 * 1024)} MB; split it and import the parts.", field="file"
        )
    text = decode_upload(data)
    headers = read_headers(text)
    try:
        total = sum(1 for _ in iter_rows(text))
    except csv.Error as exc:
        raise DomainError(f"The file could not be read as CSV: {exc}.", field="file") from exc
    if total == 0:
        raise DomainError("The file has a header line but no rows.", field="file")
    return ImportJob.objects.create(
        practice_id=by.practice_id,
        kind=kind,
        filename=(filename or "upload.csv")[:200],
        content=text,
        headers=headers,
        mapping=suggest_mapping(kind, headers),
        total_rows=total,
        created_by=by,
    )


def validate_mapping(kind: str, headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Drop empty choices; every required field mapped, to a column of the file, each column once."""
    known = {c.name: c for c in COLUMNS[kind]}
    clean = {f: col for f, col in mapping.items() if f in known and col}
    errors = []
    for name, column in known.items():
        if column.required and name not in clean:
            errors.append(f"{column.label} is required: choose the column that holds it.")
    for name, col in clean.items():
        if col not in headers:
            errors.append(f"{known[name].label}: the file has no column '{col}'.")
    twice = [col for col, n in Counter(clean.values()).items() if n > 1]
    if twice:
        errors.append(f"Column '{twice[0]}' is chosen for two fields.")
    if errors:
        raise DomainError(" ".join(errors), field="mapping")
    return clean


@transaction.atomic
def import_job_map_and_check(*, job: ImportJob, by: Membership, mapping: dict[str, str]) -> ImportJob:
    """Save the mapping and queue the dry run (a new dry run after a changed mapping)."""
    _require(by)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.VALIDATED, ImportJob.Status.FAILED):
        raise DomainError("This import is running or finished; upload the file again to start over.")
    if job.status == ImportJob.Status.FAILED and job.finished_at and job.report.get("mode") == "import":
        raise DomainError("This import failed and wrote nothing; upload the corrected file again.")
    job.mapping = validate_mapping(job.kind, job.headers, mapping)
    job.status = ImportJob.Status.VALIDATING
    job.processed_rows = 0
    job.report, job.error = QUEUED, ""
    job.started_at, job.finished_at = timezone.now(), None
    job.save()
    _queue(job, dry_run=True)
    return job


@transaction.atomic
def import_job_start(*, job: ImportJob, by: Membership) -> ImportJob:
    """Queue the real import of a job whose dry run found no errors."""
    _require(by)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJob.Status.VALIDATED:
        raise DomainError("Run the check first; the import starts from a checked file.")
    if job.report.get("errors"):
        raise DomainError("Fix the errors in the file and upload it again: an import is all or nothing.")
    job.status = ImportJob.Status.IMPORTING
    job.processed_rows = 0
    job.report = QUEUED
    job.started_at, job.finished_at = timezone.now(), None
    job.save(update_fields=["status", "processed_rows", "report", "started_at", "finished_at", "updated_at"])
    _queue(job, dry_run=False)
    return job


def _queue(job: ImportJob, *, dry_run: bool) -> None:
    from integrations.tasks_data import import_job_process_task

    practice_id, job_id = job.practice_id, job.pk
    transaction.on_commit(
        lambda: import_job_process_task.delay(practice_id=practice_id, job_id=job_id, dry_run=dry_run)
    )


def progress_key(job_id: int) -> str:
    return f"integrations:import-progress:{job_id}"


def job_progress(job: ImportJob) -> int:
    """Rows processed so far: the cache while the job's transaction is open, else the row."""
    if job.status in (ImportJob.Status.VALIDATING, ImportJob.Status.IMPORTING):
        return max(job.processed_rows, int(cache.get(progress_key(job.pk)) or 0))
    return job.processed_rows


def import_job_process(*, job_id: int, dry_run: bool) -> ImportJob | None:
    """Task body: run the job's rows (dry run or import). Claimed once with a conditional UPDATE
    on the status set by the step that queued it, so a duplicate delivery does nothing."""
    expected = ImportJob.Status.VALIDATING if dry_run else ImportJob.Status.IMPORTING
    job = ImportJob.objects.filter(pk=job_id, status=expected).select_related("created_by__user").first()
    if job is None:
        return None
    # The step that queued the job left report = QUEUED; one delivery turns it into RUNNING.
    claimed = ImportJob.objects.filter(pk=job.pk, status=expected, report=QUEUED).update(report=RUNNING)
    if claimed != 1:
        return None
    report = run_rows(job=job, dry_run=dry_run)
    errors = report["errors"]
    status = ImportJob.Status.VALIDATED
    if not dry_run:
        status = ImportJob.Status.FAILED if errors else ImportJob.Status.IMPORTED
    # Once imported (or failed for good) the uploaded copy of the file is not needed: drop it, so
    # no stale copy of patient data stays in the job row. A checked file is kept for its import.
    extra = {} if dry_run else {"content": ""}
    ImportJob.objects.filter(pk=job.pk).update(
        **extra,
        status=status,
        processed_rows=report["processed"],
        report=report,
        error=f"{report['error_count']} row error(s); nothing was written." if errors and not dry_run else "",
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    cache.delete(progress_key(job.pk))
    job.refresh_from_db()
    return job


# --- Running rows -------------------------------------------------------------------------------


class RowError(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


@dataclass
class Context:
    job: ImportJob
    by: Membership
    dry_run: bool
    records: dict[str, ExternalRecord] = field(default_factory=dict)  # this kind's, by external id
    new_records: list[ExternalRecord] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)  # external id -> first row in this file
    _clinicians: dict[str, Any] | None = None
    _locations: dict[str, Any] | None = None
    _types: dict[str, Any] | None = None
    _patients_by_ext: dict[str, uuid.UUID] | None = None

    @property
    def practice(self):
        return self.by.practice

    def clinician(self, email: str, field_name: str) -> Any:
        from practice.models import Membership

        if self._clinicians is None:
            self._clinicians = {
                m.user.email.lower(): m for m in Membership.objects.select_related("user").filter(is_active=True)
            }
        found = self._clinicians.get(email.strip().lower())
        if found is None:
            raise RowError(field_name, f"{email} is not an active member of this practice.")
        return found

    def location(self, name: str) -> Any:
        from practice.models import Location

        if self._locations is None:
            self._locations = {loc.name.strip().lower(): loc for loc in Location.objects.all()}
        found = self._locations.get(name.strip().lower())
        if found is None:
            raise RowError("location", f"There is no location named '{name}'. Add it under Locations first.")
        return found

    def appointment_type(self, name: str) -> Any:
        from scheduling.models import AppointmentType

        if self._types is None:
            self._types = {t.name.strip().lower(): t for t in AppointmentType.objects.filter(is_active=True)}
        found = self._types.get(name.strip().lower())
        if found is None:
            raise RowError("appointment_type", f"There is no appointment type named '{name}'. Add it first.")
        return found

    def patient(self, external_id: str, field_name: str = "patient_external_id") -> Patient:
        from clinical.models import Patient

        if self._patients_by_ext is None:
            self._patients_by_ext = dict(
                ExternalRecord.objects.filter(kind=Kind.PATIENTS).values_list("external_id", "object_public_id")
            )
        public_id = self._patients_by_ext.get(external_id)
        patient = Patient.objects.filter(public_id=public_id).first() if public_id else None
        if patient is None:
            raise RowError(
                field_name, f"No imported patient has external id '{external_id}'. Import the patients first."
            )
        return patient

    def remember(self, external_id: str, obj: Any) -> None:
        record = self.records.get(external_id)
        if record is None:
            record = ExternalRecord(
                practice_id=self.by.practice_id,
                kind=self.job.kind,
                external_id=external_id,
                object_public_id=obj.public_id,
                import_job=self.job,
            )
            self.records[external_id] = record
            self.new_records.append(record)
        elif record.object_public_id != obj.public_id:
            record.object_public_id = obj.public_id
            record.import_job = self.job
            record.save(update_fields=["object_public_id", "import_job", "updated_at"])


def run_rows(*, job: ImportJob, dry_run: bool, on_progress: Callable[[int], None] | None = None) -> dict:
    """Every row through its handler in one transaction; rolled back for a dry run or any error."""
    from clinical.services.patients import mrn_batch
    from practice.audit import audit_batch

    by = job.created_by
    ctx = Context(job=job, by=by, dry_run=dry_run)
    ctx.records = {r.external_id: r for r in ExternalRecord.objects.filter(kind=job.kind)}
    handler = HANDLERS[job.kind]
    columns = {c.name: c for c in COLUMNS[job.kind]}
    index = {h: i for i, h in enumerate(job.headers)}
    mapping = {f: index[col] for f, col in job.mapping.items() if col in index}
    errors: list[dict] = []
    counts: Counter[str] = Counter()
    processed = 0
    key = progress_key(job.pk)

    def report_progress(n: int) -> None:
        cache.set(key, n, timeout=6 * 3600)
        if on_progress is not None:
            on_progress(n)

    rows = list(iter_rows(job.content))
    if job.kind == Kind.APPOINTMENTS:
        rows = _inactive_first(rows, mapping)
    try:
        _require(by)
        with transaction.atomic():
            with audit_batch(practice_id=job.practice_id), mrn_batch():
                for number, cells in rows:
                    values = {f: _cell(cells[i]) if i < len(cells) else "" for f, i in mapping.items()}
                    try:
                        if job.kind in SINGLE_WRITE_KINDS:
                            counts[handler(ctx, values, number)] += 1
                        else:
                            with transaction.atomic():
                                counts[handler(ctx, values, number)] += 1
                    except RowError as exc:
                        errors.append(_error(number, exc.field, exc.reason, job.mapping, columns))
                    except DomainError as exc:
                        field_name = _domain_field(job.kind, exc.field)
                        errors.append(_error(number, field_name, exc.message, job.mapping, columns))
                    processed += 1
                    if processed % PROGRESS_EVERY == 0:
                        report_progress(processed)
                if ctx.new_records and not errors:
                    ExternalRecord.objects.bulk_create(ctx.new_records, batch_size=1000)
            if dry_run or errors:
                transaction.set_rollback(True)
    except DomainError as exc:  # the importing member lost the permission
        errors.append({"row": None, "column": "", "field": "", "reason": exc.message})
    report_progress(processed)
    errors.sort(key=lambda e: e["row"] or 0)
    return {
        "mode": "dry_run" if dry_run else "import",
        "processed": processed,
        "counts": {"new": counts["new"], "updated": counts["updated"], "unchanged": counts["unchanged"]},
        "error_count": len(errors),
        "errors": errors[:MAX_REPORTED_ERRORS],
    }


def _cell(value: str) -> str:
    value = value.strip()
    # The export guards spreadsheet formulas with a leading apostrophe; take it off again.
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@":
        return value[1:]
    return value


def _error(row: int, field_name: str, reason: str, mapping: dict[str, str], columns: dict[str, Column]) -> dict:
    return {"row": row, "field": field_name, "column": mapping.get(field_name, field_name), "reason": reason}


# Service field names -> the import's column names (a DomainError names the model field).
_DOMAIN_FIELDS = {
    "legal_first_name": "first_name",
    "legal_last_name": "last_name",
    "legal_middle_name": "middle_name",
    "sex_assigned_at_birth": "sex",
    "primary_clinician": "primary_clinician_email",
    "starts_at": "start",
    "ends_at": "end",
    "clinician": "clinician_email",
    "patients": "patient_external_id",
    "is_telehealth": "telehealth",
    "amount": "amount",
}


def _domain_field(kind: str, name: str | None) -> str:
    if not name:  # a booking conflict or a move the status forbids: the time is what to look at
        return "start" if kind == Kind.APPOINTMENTS else ""
    return _DOMAIN_FIELDS.get(name, name)


def _inactive_first(rows: list[tuple[int, list[str]]], mapping: dict[str, int]) -> list[tuple[int, list[str]]]:
    """Cancelled and no-show appointments first: they hold no slot, so a rebooked visit in the same
    slot (a later row or an earlier one) does not look like a double booking."""
    i = mapping.get("status")
    if i is None:
        return rows

    def holds_slot(row: tuple[int, list[str]]) -> bool:
        cells = row[1]
        raw = cells[i] if i < len(cells) else ""
        return _status_value(raw) not in ("cancelled", "late_cancelled", "no_show")

    return sorted(rows, key=holds_slot)


# --- Parsing values ----------------------------------------------------------------------------

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%Y/%m/%d", "%m/%d/%y")
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M%p",
)


def parse_date(value: str, field_name: str) -> date:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    raise RowError(field_name, f"{value} is not a date (use YYYY-MM-DD or MM/DD/YYYY).")


def parse_datetime(value: str, field_name: str, tz: ZoneInfo) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
        for fmt in DATETIME_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)  # noqa: DTZ007 - the zone is added below
                break
            except ValueError:
                continue
    if parsed is None:
        raise RowError(field_name, f"{value} is not a date and time (use YYYY-MM-DD HH:MM).")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def parse_money(value: str, field_name: str) -> Decimal:
    cleaned = value.replace("$", "").replace(",", "").strip()
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:
        raise RowError(field_name, f"{value} is not an amount (use 125.00).") from exc
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        raise RowError(field_name, f"{value} is not an amount in dollars and cents.")
    return -amount if negative else amount


_SEX = {
    "f": "female", "female": "female", "woman": "female",
    "m": "male", "male": "male", "man": "male",
    "x": "intersex", "intersex": "intersex",
    "u": "unknown", "unknown": "unknown", "": "unknown",
    "declined": "declined", "declined to answer": "declined", "prefer not to say": "declined",
}  # fmt: skip

_STATUS = {
    "scheduled": "scheduled", "booked": "scheduled", "pending": "scheduled",
    "confirmed": "confirmed",
    "arrived": "arrived", "checked in": "arrived",
    "completed": "completed", "kept": "completed", "attended": "completed", "show": "completed", "seen": "completed",
    "cancelled": "cancelled", "canceled": "cancelled",
    "late cancelled": "late_cancelled", "late canceled": "late_cancelled", "late cancel": "late_cancelled",
    "no show": "no_show", "noshow": "no_show", "dna": "no_show",
}  # fmt: skip


def _status_value(raw: str) -> str | None:
    key = re.sub(r"[_\-]+", " ", raw.strip().lower())
    if not key:
        return "scheduled"
    return _STATUS.get(key)


def _bool(value: str, field_name: str) -> bool:
    key = value.strip().lower()
    if key in ("", "0", "no", "n", "false", "f", "in person", "in-person"):
        return False
    if key in ("1", "yes", "y", "true", "t", "telehealth", "video", "virtual"):
        return True
    raise RowError(field_name, f"{value} is not yes or no.")


def _external_id(ctx: Context, values: dict[str, str], number: int, field_name: str = "external_id") -> str:
    external_id = values.get(field_name, "")
    if not external_id:
        raise RowError(field_name, "is empty; every row needs the other system's id.")
    if len(external_id) > 100:
        raise RowError(field_name, "is longer than 100 characters.")
    first = ctx.seen.setdefault(external_id, number)
    if first != number:
        raise RowError(field_name, f"{external_id} is also on row {first}; each id may appear once.")
    return external_id


# --- Patients ----------------------------------------------------------------------------------

_PATIENT_TEXT = {
    "first_name": "legal_first_name",
    "middle_name": "legal_middle_name",
    "last_name": "legal_last_name",
    "preferred_name": "preferred_name",
    "gender_identity": "gender_identity",
    "pronouns": "pronouns",
    "email": "email",
    "phone": "phone",
    "address_line1": "address_line1",
    "address_line2": "address_line2",
    "city": "city",
    "state": "state",
    "postal_code": "postal_code",
    "guardian_name": "guardian_name",
    "guardian_phone": "guardian_phone",
    "guardian_email": "guardian_email",
    "emergency_contact_name": "emergency_contact_name",
    "emergency_contact_phone": "emergency_contact_phone",
}


def _patient_fields(ctx: Context, values: dict[str, str]) -> dict[str, Any]:
    from clinical.models import Patient

    fields: dict[str, Any] = {}
    for ours, model_field in _PATIENT_TEXT.items():
        if ours in values:
            fields[model_field] = values[ours]
    for required in ("first_name", "last_name"):
        if not values.get(required):
            raise RowError(required, "is empty.")
    fields["date_of_birth"] = parse_date(values.get("date_of_birth", ""), "date_of_birth")
    if "state" in fields:
        fields["state"] = fields["state"].upper()
    if "sex" in values:
        sex = _SEX.get(values["sex"].strip().lower())
        if sex is None:
            raise RowError("sex", f"{values['sex']} is not one of female, male, intersex, unknown, declined.")
        fields["sex_assigned_at_birth"] = sex
    if values.get("status"):
        status = values["status"].strip().lower()
        if status not in Patient.Status.values:
            raise RowError("status", f"{values['status']} is not one of active, waitlisted, discharged.")
        fields["status"] = status
    if "primary_clinician_email" in values:
        email = values["primary_clinician_email"]
        fields["primary_clinician"] = ctx.clinician(email, "primary_clinician_email") if email else None
    return fields


def _import_patient(ctx: Context, values: dict[str, str], number: int) -> str:
    from clinical.models import Patient
    from clinical.services.patients import DuplicatePatient, patient_create, patient_update

    external_id = _external_id(ctx, values, number)
    fields = _patient_fields(ctx, values)
    mrn = values.get("mrn", "")
    if len(mrn) > 20:
        raise RowError("mrn", "is longer than 20 characters.")
    record = ctx.records.get(external_id)
    patient = Patient.objects.filter(public_id=record.object_public_id).first() if record else None
    if mrn and Patient.objects.filter(mrn=mrn).exclude(pk=patient.pk if patient else None).exists():
        raise RowError("mrn", f"{mrn} is already another patient's MRN.")
    if patient is None:
        try:
            patient = patient_create(by=ctx.by, **fields)
        except DuplicatePatient as exc:
            raise RowError(
                "last_name",
                f"A patient with this name and date of birth is already in Tend (MRN {exc.matches[0].mrn}).",
            ) from exc
        outcome = "new"
    else:
        changed = {k: v for k, v in fields.items() if getattr(patient, k) != v}
        if changed:
            patient = patient_update(patient=patient, by=ctx.by, **changed)
        outcome = "updated" if changed else "unchanged"
    if mrn and mrn != patient.mrn:
        patient.mrn = mrn
        patient.save(update_fields=["mrn", "updated_at"])
        outcome = "updated" if outcome == "unchanged" else outcome
    ctx.remember(external_id, patient)
    return outcome


# --- Appointments ------------------------------------------------------------------------------


def _status_path(from_status: str, to_status: str) -> list[str] | None:
    """The shortest chain of allowed transitions (scheduled → arrived → completed)."""
    from scheduling.services import TRANSITIONS

    if from_status == to_status:
        return []
    frontier: list[tuple[str, list[str]]] = [(from_status, [])]
    seen = {from_status}
    while frontier:
        current, path = frontier.pop(0)
        for nxt in sorted(TRANSITIONS.get(current, ())):
            if nxt in seen:
                continue
            if nxt == to_status:
                return [*path, nxt]
            seen.add(nxt)
            frontier.append((nxt, [*path, nxt]))
    return None


def _apply_status(ctx: Context, appointment: Any, to_status: str) -> None:
    """Walk the status flow with the scheduling helpers; imported history charges no fees."""
    from scheduling import services as sched

    path = _status_path(appointment.status, to_status)
    if path is None:
        raise RowError("status", f"An appointment that is {appointment.status} cannot become {to_status}.")
    if not path:
        return
    appointment = sched._locked(appointment)
    for step in path:
        sched._set_status(appointment, to_status=step, by=ctx.by, reason="Imported", source="import", fee_due=False)
    sched._after_commit([appointment.pk], practice_id=appointment.practice_id)


def _import_appointment(ctx: Context, values: dict[str, str], number: int) -> str:
    from scheduling.models import Appointment
    from scheduling.services import appointment_book, appointment_reschedule, zone_for

    external_id = _external_id(ctx, values, number)
    patient = ctx.patient(values.get("patient_external_id", ""))
    clinician = ctx.clinician(values.get("clinician_email", ""), "clinician_email")
    appointment_type = ctx.appointment_type(values.get("appointment_type", ""))
    location = ctx.location(values["location"]) if values.get("location") else None
    tz = zone_for(location=location, practice=ctx.practice)
    starts_at = parse_datetime(values.get("start", ""), "start", tz)
    if values.get("end"):
        ends_at = parse_datetime(values["end"], "end", tz)
    elif values.get("duration_minutes"):
        try:
            minutes = int(values["duration_minutes"])
        except ValueError as exc:
            raise RowError("duration_minutes", f"{values['duration_minutes']} is not a whole number.") from exc
        if not 5 <= minutes <= 720:
            raise RowError("duration_minutes", "must be between 5 and 720 minutes.")
        ends_at = starts_at + timedelta(minutes=minutes)
    else:
        ends_at = starts_at + timedelta(minutes=appointment_type.duration_minutes)
    if ends_at <= starts_at:
        raise RowError("end", "is not after the start.")
    status = _status_value(values.get("status", ""))
    if status is None:
        raise RowError("status", f"{values['status']} is not an appointment status.")
    is_telehealth = _bool(values.get("telehealth", ""), "telehealth")

    record = ctx.records.get(external_id)
    appointment = Appointment.objects.filter(public_id=record.object_public_id).first() if record else None
    if appointment is None:
        appointment = appointment_book(
            by=ctx.by,
            clinician=clinician,
            appointment_type=appointment_type,
            starts_at=starts_at,
            patients=[patient],
            location=location,
            is_telehealth=is_telehealth,
        )
        if appointment.ends_at != ends_at:
            appointment = appointment_reschedule(
                appointment=appointment, by=ctx.by, starts_at=starts_at, ends_at=ends_at
            )
        _apply_status(ctx, appointment, status)
        ctx.remember(external_id, appointment)
        return "new"

    attendee_ids = set(appointment.attendees.values_list("patient_id", flat=True))
    if attendee_ids != {patient.pk}:
        raise RowError(
            "patient_external_id", "The patient of an imported appointment cannot change; cancel it and add a new one."
        )
    if appointment.appointment_type_id != appointment_type.pk:
        raise RowError("appointment_type", "The type of an imported appointment cannot change on a re-run.")
    if appointment.location_id != (location.pk if location else None) or appointment.is_telehealth != is_telehealth:
        raise RowError("location", "The location of an imported appointment cannot change on a re-run.")
    changed = False
    moved = (appointment.starts_at, appointment.ends_at, appointment.clinician_id) != (starts_at, ends_at, clinician.pk)
    if moved:
        appointment = appointment_reschedule(
            appointment=appointment, by=ctx.by, starts_at=starts_at, ends_at=ends_at, clinician=clinician
        )
        changed = True
    if appointment.status != status:
        _apply_status(ctx, appointment, status)
        changed = True
    ctx.remember(external_id, appointment)
    return "updated" if changed else "unchanged"


# --- Opening balances --------------------------------------------------------------------------

RESPONSIBILITIES = ("patient", "insurance")


def _balance_key(patient_external_id: str, responsibility: str) -> str:
    return f"{patient_external_id}:{responsibility}"


def _import_balance(ctx: Context, values: dict[str, str], number: int) -> str:
    from billing.ledger import money

    patient_external_id = values.get("patient_external_id", "")
    if not patient_external_id:
        raise RowError("patient_external_id", "is empty.")
    responsibility = (values.get("responsibility") or "patient").strip().lower()
    if responsibility not in RESPONSIBILITIES:
        raise RowError("responsibility", f"{values['responsibility']} is not patient or insurance.")
    key = _balance_key(patient_external_id, responsibility)
    first = ctx.seen.setdefault(key, number)
    if first != number:
        raise RowError("patient_external_id", f"This patient's {responsibility} balance is also on row {first}.")
    patient = ctx.patient(patient_external_id)
    amount = money(parse_money(values.get("amount", ""), "amount"))
    if responsibility == "insurance" and amount < 0:
        raise RowError("amount", "An insurance balance cannot be negative.")
    as_of = parse_date(values.get("as_of", ""), "as_of")
    if as_of > timezone.localdate():
        raise RowError("as_of", "is in the future.")
    memo = (values.get("memo") or "Opening balance")[:120]

    record = ctx.records.get(key)
    existing = _opening_posting(record)
    if existing is not None:
        if (
            existing["amount"] == amount
            and existing["occurred_on"] == as_of
            and existing["memo"] == memo
            and existing["patient_id"] == patient.pk
        ):
            ctx.remember(key, existing["transaction"])
            return "unchanged"
        _opening_reverse(ctx, existing)
    txn = _opening_post(ctx, patient=patient, amount=amount, as_of=as_of, memo=memo, responsibility=responsibility)
    if txn is None:  # a zero balance: nothing to post; a previous one was reversed above
        if record is not None:
            record.delete()
            ctx.records.pop(key, None)
        return "updated" if existing is not None else "unchanged"
    ctx.remember(key, txn)
    return "updated" if existing is not None else "new"


def _opening_posting(record: ExternalRecord | None) -> dict | None:
    from billing.models import LedgerAccount, LedgerTransaction

    if record is None:
        return None
    txn = LedgerTransaction.objects.filter(public_id=record.object_public_id).prefetch_related("entries").first()
    if txn is None or hasattr(txn, "reversed_by"):
        return None
    entries = list(txn.entries.all())
    counter = [e for e in entries if e.account == LedgerAccount.CHARGES]
    amount = -sum((e.amount for e in counter), Decimal("0.00"))
    patient_id = next((e.patient_id for e in entries if e.patient_id), None)
    charge_id = next((e.charge_id for e in entries if e.charge_id), None)
    return {
        "transaction": txn,
        "amount": amount,
        "occurred_on": txn.occurred_on,
        "memo": txn.memo,
        "patient_id": patient_id,
        "charge_id": charge_id,
    }


def _opening_reverse(ctx: Context, existing: dict) -> None:
    from billing.ledger import ledger_reverse
    from billing.models import Charge
    from billing.services_charges import charge_void

    if existing["charge_id"]:
        charge_void(charge=Charge.objects.get(pk=existing["charge_id"]), by=ctx.by, memo="Opening balance re-imported")
    else:
        ledger_reverse(original=existing["transaction"], by=ctx.by, memo="Opening balance re-imported")


def _opening_post(ctx: Context, *, patient: Any, amount: Decimal, as_of: date, memo: str, responsibility: str):
    """Patient balance owed: a patient charge (so payments allocate to it) posted Dr patient_ar /
    Cr charges. Patient credit: Dr charges / Cr patient_credit. Insurance balance owed: Dr
    insurance_ar / Cr charges, with no charge row (it must never be put on a new claim)."""
    from billing.ledger import credit, debit, ledger_post
    from billing.models import Charge, LedgerAccount, LedgerTransaction
    from billing.services_charges import charge_ledger_post

    if amount == 0:
        return None
    key = f"opening_balance:{uuid.uuid4()}"
    if responsibility == "patient" and amount > 0:
        charge = Charge.objects.create(
            practice_id=patient.practice_id,
            patient=patient,
            kind=Charge.Kind.PATIENT,
            status=Charge.Status.PATIENT,
            source="opening_balance",
            service_date=as_of,
            cpt="",
            fee_cents=int(amount * 100),
            description=memo,
            idempotency_key=key,
        )
        return charge_ledger_post(charge=charge)
    dims = {"patient_id": patient.pk}
    if responsibility == "patient":
        legs = [debit(LedgerAccount.CHARGES, -amount, **dims), credit(LedgerAccount.PATIENT_CREDIT, -amount, **dims)]
    else:
        legs = [debit(LedgerAccount.INSURANCE_AR, amount, **dims), credit(LedgerAccount.CHARGES, amount, **dims)]
    return ledger_post(
        practice_id=patient.practice_id,
        kind=LedgerTransaction.Kind.CHARGE,
        legs=legs,
        idempotency_key=key,
        occurred_on=as_of,
        memo=memo,
        by=ctx.by,
    )


HANDLERS: dict[str, Callable[[Context, dict[str, str], int], str]] = {
    Kind.PATIENTS: _import_patient,
    Kind.APPOINTMENTS: _import_appointment,
    Kind.BALANCES: _import_balance,
}
