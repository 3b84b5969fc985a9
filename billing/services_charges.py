"""Charge capture: every billable service becomes a Charge from its source, never typed by hand.

- A signed (and, for pre-licensed authors, co-signed) progress note → one charge (group notes:
  one 90853 charge per attending member who has no note of their own).
- A complete scored questionnaire with a billable CPT (96127) → one charge per instrument per
  patient per day (billing.md P7: units = number of instruments; lines merge at claim build).
- A late cancellation / no-show with `Appointment.fee_due` → a patient charge, never on a claim.

Each charge carries an idempotency key, so running a capture twice creates nothing new.
Fees come from helper B1's `billing.selectors_setup.fee_for`; authorizations from its
`authorization_for`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import cpt as cpt_catalog
from billing.models import Charge, Coverage, PatientBillingSettings, Payer
from practice.errors import DomainError

logger = logging.getLogger(__name__)

# CMS place-of-service codes (billing.md P8): 10 telehealth in the patient's home, 02 elsewhere.
POS_TELEHEALTH_HOME = "10"
POS_TELEHEALTH_OTHER = "02"
POS_OFFICE = "11"
TELEHEALTH_POS = (POS_TELEHEALTH_HOME, POS_TELEHEALTH_OTHER)
MAX_DIAGNOSES = 12  # one HI segment, 12 codes (billing.md D4)
MAX_POINTERS = 4  # SV107-01..04 (billing.md D6)
CATCH_UP_DAYS = 30
GROUP_CPT = "90853"
BILLED_ATTENDEE_STATUSES = ("attended", "arrived")
BILLED_APPOINTMENT_STATUSES = ("completed", "arrived")
_MISSED = ("cancelled", "late_cancelled", "no_show")


@dataclass
class CaptureResult:
    created: list[Charge] = field(default_factory=list)
    existing: int = 0
    problems: list[str] = field(default_factory=list)


# --- Helpers ----------------------------------------------------------------------------------


def _practice_zone(practice) -> ZoneInfo:
    return ZoneInfo(practice.timezone)


def active_primary_coverage(*, patient, on: date) -> Coverage | None:
    """The patient's active primary coverage on a date (None = bill the patient)."""
    try:
        if PatientBillingSettings.objects.filter(patient=patient, self_pay=True).exists():
            return None
    except Exception:  # pragma: no cover - table always present; defensive for partial set-ups
        logger.exception("billing settings lookup failed")
    return (
        Coverage.objects.select_related("payer")
        .filter(patient=patient, priority=Coverage.Priority.PRIMARY, is_active=True)
        .exclude(starts_on__gt=on)
        .exclude(ends_on__lt=on)
        .order_by("-starts_on", "-id")
        .first()
    )


def telehealth_pos_and_modifiers(*, payer: Payer | None, note_pos: str) -> tuple[str, list[str]]:
    """Place of service and modifiers for a telehealth service by the payer's convention
    (billing.md P8): cms → POS 10 (home; the default) or 02 + 95; office_95 → POS 11 + 95;
    gt → POS 02 + GT. Without a payer (self-pay) the CMS convention applies."""
    convention = payer.telehealth if payer else Payer.TelehealthConvention.CMS
    if convention == Payer.TelehealthConvention.OFFICE_95:
        return POS_OFFICE, ["95"]
    if convention == Payer.TelehealthConvention.GT:
        return POS_TELEHEALTH_OTHER, ["GT"]
    return (note_pos if note_pos in TELEHEALTH_POS else POS_TELEHEALTH_HOME), ["95"]


def active_diagnosis_codes(*, patient, on: date) -> list[str]:
    """The chart's diagnoses active on the date, in claim order (rank; primary first on ties), ≤12."""
    from clinical.models import Diagnosis

    rows = (
        Diagnosis.objects.filter(patient=patient)
        .exclude(resolved_on__lte=on)
        .exclude(onset_on__gt=on)
        .select_related("code")
        .order_by("rank", "-is_primary", "id")
    )
    codes: list[str] = []
    for row in rows:
        if row.code.code not in codes:
            codes.append(row.code.code)
    return codes[:MAX_DIAGNOSES]


def default_pointers(codes: list[str]) -> list[int]:
    return list(range(1, min(MAX_POINTERS, len(codes)) + 1))


def _fee(*, coverage: Coverage | None, cpt: str, modifiers: list[str], patient, on: date) -> int:
    try:
        from billing.selectors_setup import fee_for
    except ImportError as exc:
        raise DomainError("Fee schedules are not set up yet, so the fee cannot be found.", code="no_fee") from exc
    return fee_for(coverage=coverage, cpt=cpt, modifiers=modifiers, patient=patient, on=on)


def _authorization(*, coverage: Coverage | None, cpt: str, on: date):
    if coverage is None:
        return None
    try:
        from billing.selectors_setup import authorization_for
    except ImportError:
        return None
    return authorization_for(coverage=coverage, cpt=cpt, on=on)


def charge_ledger_post(*, charge: Charge):
    """Post a charge to the ledger (billing/ledger.py conventions): Dr insurance_ar (insurance
    charge) or patient_ar (patient charge) / Cr charges. Idempotent by `charge:<id>`; a zero fee
    posts nothing."""
    from billing.ledger import cents_to_money, credit, debit, ledger_post
    from billing.models import LedgerAccount, LedgerTransaction

    if not charge.fee_cents:
        return None
    account = LedgerAccount.INSURANCE_AR if charge.kind == Charge.Kind.INSURANCE else LedgerAccount.PATIENT_AR
    dims = {"patient_id": charge.patient_id, "charge_id": charge.pk, "rendering_id": charge.rendering_id}
    amount = cents_to_money(charge.fee_cents)
    return ledger_post(
        practice_id=charge.practice_id,
        kind=LedgerTransaction.Kind.CHARGE,
        legs=[debit(account, amount, **dims), credit(LedgerAccount.CHARGES, amount, **dims)],
        idempotency_key=f"charge:{charge.pk}",
        occurred_on=charge.service_date,
        memo=(charge.description or charge.cpt or "Charge")[:300],
    )


@transaction.atomic
def charge_void(*, charge: Charge, by=None, memo: str = "") -> Charge:
    """Void a charge that is not on a live claim and reverse its ledger posting (idempotent)."""
    charge = Charge.objects.select_for_update().get(pk=charge.pk)
    if charge.status == Charge.Status.ON_CLAIM:
        raise DomainError("A charge on a claim is voided with its claim.", code="invalid_transition")
    if charge.status != Charge.Status.VOID:
        charge.status = Charge.Status.VOID
        charge.save(update_fields=["status", "updated_at"])
    charge_ledger_void(charge=charge, by=by, memo=memo)
    return charge


def charge_ledger_void(*, charge: Charge, by=None, memo: str = ""):
    """Reverse the charge's ledger posting (for callers that void charges themselves)."""
    from billing.ledger import ledger_reverse
    from billing.models import LedgerTransaction

    original = LedgerTransaction.objects.filter(idempotency_key=f"charge:{charge.pk}").first()
    if original is None:
        return None
    return ledger_reverse(original=original, by=by, memo=memo or f"Charge voided: {charge.description or charge.cpt}")


def _create_once(**fields) -> tuple[Charge, bool]:
    """Create the charge unless its idempotency key exists (a savepoint keeps a race harmless)."""
    key = fields["idempotency_key"]
    found = Charge.objects.filter(idempotency_key=key).first()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            charge = Charge.objects.create(**fields)
            charge_ledger_post(charge=charge)
            return charge, True
    except IntegrityError:
        found = Charge.all_objects.filter(idempotency_key=key, practice_id=fields["practice"].pk).first()
        if found is None:
            raise
        return found, False


def _service_charge(
    *,
    practice,
    patient,
    on: date,
    cpt: str,
    source: str,
    key: str,
    note=None,
    appointment=None,
    attendee=None,
    assessment_response=None,
    minutes: int | None,
    note_pos: str,
    is_telehealth: bool,
    rendering,
    supervising,
    location,
    units: int = 1,
) -> tuple[Charge, bool]:
    existing = Charge.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing, False
    coverage = active_primary_coverage(patient=patient, on=on)
    payer = coverage.payer if coverage else None
    modifiers: list[str] = []
    pos = note_pos or POS_OFFICE
    if is_telehealth or pos in TELEHEALTH_POS:
        pos, modifiers = telehealth_pos_and_modifiers(payer=payer, note_pos=pos)
    codes = active_diagnosis_codes(patient=patient, on=on)
    fee = _fee(coverage=coverage, cpt=cpt, modifiers=modifiers, patient=patient, on=on) * units
    auth = _authorization(coverage=coverage, cpt=cpt, on=on)
    insurance = coverage is not None
    return _create_once(
        practice=practice,
        patient=patient,
        kind=Charge.Kind.INSURANCE if insurance else Charge.Kind.PATIENT,
        status=Charge.Status.UNBILLED if insurance else Charge.Status.PATIENT,
        coverage=coverage,
        note=note,
        appointment=appointment,
        attendee=attendee,
        assessment_response=assessment_response,
        source=source,
        service_date=on,
        cpt=cpt,
        modifiers=modifiers,
        units=units,
        minutes=minutes,
        place_of_service=pos,
        diagnosis_codes=codes,
        diagnosis_pointers=default_pointers(codes),
        rendering=rendering,
        supervising=supervising,
        location=location,
        prior_authorization=auth,
        fee_cents=fee,
        description=cpt_catalog.cpt_label(cpt)[:120],
        idempotency_key=key,
    )


def _note_is_billable(note) -> bool:
    return note.status == note.Status.SIGNED and bool(note.service_code)


def _supervising(note):
    """The supervising provider (2310D) for a pre-licensed author: the co-signer, else the supervisor."""
    if note.author.is_licensed:
        return None
    return note.cosigner or note.author.supervisor


# --- Notes ------------------------------------------------------------------------------------


@transaction.atomic
def charges_for_note(*, note_id: int) -> CaptureResult:
    """Create the charge(s) for a signed note. Nothing happens for drafts, notes awaiting a
    co-signature, notes without a service code, or sessions the patient did not attend."""
    from clinical.models import ProgressNote
    from scheduling.models import Attendee

    result = CaptureResult()
    note = (
        ProgressNote.objects.select_related("patient", "author", "author__supervisor", "cosigner", "location")
        .filter(pk=note_id)
        .first()
    )
    if note is None or not _note_is_billable(note):
        return result
    code = note.service_code.upper()
    attendee = Attendee.objects.select_related("appointment").filter(progress_note=note).first()
    appointment = attendee.appointment if attendee else None
    if attendee is not None:
        attended = attendee.status in BILLED_ATTENDEE_STATUSES or (
            appointment.status in BILLED_APPOINTMENT_STATUSES and attendee.status not in _MISSED
        )
        if not attended:
            result.problems.append(f"note {note.pk}: the session is not marked attended")
            return result
    common = {
        "practice": note.practice,
        "on": note.session_on,
        "cpt": code,
        "source": "note",
        "note": note,
        "appointment": appointment,
        "minutes": note.duration_minutes,
        "note_pos": note.place_of_service,
        "is_telehealth": note.modality == "telehealth",
        "rendering": note.author,
        "supervising": _supervising(note),
        "location": note.location,
    }
    targets = [(note.patient, attendee, f"note:{note.pk}:{code}")]
    if code == GROUP_CPT and appointment is not None:
        # One 90853 line per attending member (issue 6); members with their own note get theirs
        # from that note.
        others = (
            Attendee.objects.select_related("patient")
            .filter(appointment=appointment, progress_note__isnull=True)
            .exclude(status__in=_MISSED)
            .exclude(pk=attendee.pk)
        )
        if appointment.status not in BILLED_APPOINTMENT_STATUSES:
            others = others.filter(status__in=BILLED_ATTENDEE_STATUSES)
        targets += [(a.patient, a, f"note:{note.pk}:{code}:{a.patient_id}") for a in others]
    for patient, who, key in targets:
        if who is not None and code == GROUP_CPT:
            already = Charge.objects.filter(attendee=who, cpt=code).exclude(status=Charge.Status.VOID)
            if already.exclude(idempotency_key=key).exists():
                result.existing += 1
                continue
        try:
            with transaction.atomic():
                charge, created = _service_charge(patient=patient, attendee=who, key=key, **common)
        except DomainError as exc:
            result.problems.append(f"note {note.pk} patient {patient.pk}: {exc.message}")
            continue
        if created:
            result.created.append(charge)
        else:
            result.existing += 1
    return result


def note_signed_on_commit(note: object) -> None:
    """Called by clinical's note_sign / note_cosign: queue charge capture once the note is SIGNED."""
    if getattr(note, "status", None) != "signed":
        return
    note_id, practice_id = note.pk, note.practice_id

    def run() -> None:
        from billing.tasks_charges import charges_for_note_task

        try:
            charges_for_note_task.delay(practice_id=practice_id, note_id=note_id)
        except Exception:  # the signature is committed; the catch-up task will create the charge
            logger.exception("charge capture not queued for note %s", note_id)

    transaction.on_commit(run)


# --- Assessments (96127) ---------------------------------------------------------------------


@transaction.atomic
def charge_for_response(*, response_id: int) -> Charge | None:
    """One 96127 charge per instrument per patient per day (billing.md P7); corrections and
    repeats of the same instrument that day are not charged again. Marks the response recorded."""
    from assessments.models import Response

    response = (
        Response.objects.select_for_update(of=("self",))
        .select_related("patient", "patient__primary_clinician", "administered_by")
        .filter(pk=response_id)
        .first()
    )
    if response is None or not response.billable_cpt or not response.is_complete:
        return None
    from assessments.services import assessment_settings_get

    if not assessment_settings_get(practice_id=response.practice_id).bill_screening_cpt:
        return None
    if response.charge_recorded_at is not None:
        return Charge.objects.filter(assessment_response=response).first()
    patient = response.patient
    zone = _practice_zone(response.practice)
    on = timezone.localtime(response.completed_at, zone).date()
    visit_day = _visit_day_for(response, zone)
    if visit_day is not None:
        if visit_day > timezone.localdate(timezone.now(), zone):
            return None  # billed with the visit it was sent for; the catch-up charges it after that day
        on = visit_day
    code = response.billable_cpt.upper()
    key = f"assessment:{patient.pk}:{on.isoformat()}:{response.instrument_code}:{code}"
    same_day_note = (
        Charge.objects.filter(patient=patient, service_date=on, source="note")
        .exclude(status=Charge.Status.VOID)
        .select_related("location")
        .order_by("id")
        .first()
    )
    rendering = same_day_note.rendering if same_day_note else (patient.primary_clinician or response.administered_by)
    charge, _ = _service_charge(
        practice=response.practice,
        patient=patient,
        on=on,
        cpt=code,
        source="assessment",
        key=key,
        assessment_response=response,
        minutes=None,
        note_pos=same_day_note.place_of_service if same_day_note else POS_OFFICE,
        is_telehealth=False,
        rendering=rendering,
        supervising=same_day_note.supervising if same_day_note else None,
        location=same_day_note.location if same_day_note else None,
    )
    if same_day_note and same_day_note.modifiers and not charge.modifiers:
        charge.modifiers = list(same_day_note.modifiers)
        charge.save(update_fields=["modifiers", "updated_at"])
    response.charge_recorded_at = timezone.now()
    response.save(update_fields=["charge_recorded_at", "updated_at"])
    return charge


def _visit_day_for(response, zone) -> date | None:
    """The day of the session a questionnaire was sent for, when that session took place (or is
    still to come): the instrument is reviewed and billed with the visit. A questionnaire for a
    cancelled or missed session is billed on the day it was completed."""
    from scheduling.models import Appointment

    administration = response.administration if response.administration_id else None
    if administration is None or administration.appointment_id is None:
        return None
    appointment = Appointment.objects.filter(pk=administration.appointment_id).only("starts_at", "status").first()
    if appointment is None or appointment.status in (
        Appointment.Status.CANCELLED,
        Appointment.Status.LATE_CANCELLED,
        Appointment.Status.NO_SHOW,
    ):
        return None
    return timezone.localtime(appointment.starts_at, zone).date()


def on_response_billable(sender, *, practice_id: int, response_id: int, **kwargs) -> None:
    """Receiver for `assessments.services.response_billable` (sent on commit)."""
    from billing.tasks_charges import charge_for_response_task

    try:
        charge_for_response_task.delay(practice_id=practice_id, response_id=response_id)
    except Exception:  # the catch-up task records it later
        logger.exception("96127 charge not queued for response %s", response_id)


# --- Appointment fees ------------------------------------------------------------------------

FEE_SOURCES = {"late_cancelled": "late_cancel_fee", "no_show": "no_show_fee"}
FEE_DESCRIPTIONS = {"late_cancel_fee": "Late cancellation fee", "no_show_fee": "No-show fee"}


@transaction.atomic
def charges_for_appointment_fee(*, appointment_id: int) -> list[Charge]:
    """Patient charges for a late-cancelled / no-show appointment with a fee due: one per missed
    attendee, amount from SchedulingSettings. Never insurance, never on a claim."""
    from scheduling.models import Appointment
    from scheduling.selectors import scheduling_settings

    appointment = Appointment.objects.filter(pk=appointment_id).first()
    if appointment is None or not appointment.fee_due or appointment.status not in FEE_SOURCES:
        return []
    source = FEE_SOURCES[appointment.status]
    settings = scheduling_settings(appointment.practice_id)
    amount = settings.late_cancel_fee_cents if source == "late_cancel_fee" else settings.no_show_fee_cents
    if amount <= 0:
        return []
    on = timezone.localtime(appointment.starts_at, _practice_zone(appointment.practice)).date()
    created = []
    for attendee in appointment.attendees.select_related("patient").filter(status__in=tuple(FEE_SOURCES)):
        charge, was_created = _create_once(
            practice=appointment.practice,
            patient=attendee.patient,
            kind=Charge.Kind.PATIENT,
            status=Charge.Status.PATIENT,
            appointment=appointment,
            attendee=attendee,
            source=source,
            service_date=on,
            cpt="",
            rendering=appointment.clinician,
            location=appointment.location,
            fee_cents=amount,
            description=FEE_DESCRIPTIONS[source],
            idempotency_key=f"fee:{appointment.pk}:{attendee.patient_id}:{source}",
        )
        if was_created:
            created.append(charge)
    return created


def appointment_fee_on_commit(*, appointment_id: int, practice_id: int) -> None:
    """Called by scheduling when an appointment becomes late-cancelled / no-show with a fee due."""

    def run() -> None:
        from billing.tasks_charges import appointment_fee_charge_task

        try:
            appointment_fee_charge_task.delay(practice_id=practice_id, appointment_id=appointment_id)
        except Exception:  # the catch-up task creates it later
            logger.exception("fee charge not queued for appointment %s", appointment_id)

    transaction.on_commit(run)


# --- Catch-up --------------------------------------------------------------------------------


def charges_catch_up(*, practice_id: int, today: date | None = None) -> dict[str, int]:
    """Signed notes of the last 30 days without charges, unrecorded billable responses, and
    fee-due appointments without their patient charge: create what is missing."""
    from assessments.models import Response
    from clinical.models import ProgressNote
    from scheduling.models import Appointment

    today = today or timezone.localdate()
    since = today - timedelta(days=CATCH_UP_DAYS)
    charged_notes = Charge.objects.filter(note__isnull=False, service_date__gte=since).values("note_id")
    note_ids = list(
        ProgressNote.objects.filter(
            practice_id=practice_id, status=ProgressNote.Status.SIGNED, session_on__gte=since, session_on__lte=today
        )
        .exclude(service_code="")
        .exclude(pk__in=charged_notes)
        .values_list("pk", flat=True)
    )
    counts = {"notes": 0, "charges": 0, "responses": 0, "fees": 0, "problems": 0}
    for note_id in note_ids:
        result = charges_for_note(note_id=note_id)
        counts["notes"] += 1
        counts["charges"] += len(result.created)
        counts["problems"] += len(result.problems)
    response_ids = list(
        Response.objects.filter(
            practice_id=practice_id,
            charge_recorded_at__isnull=True,
            is_complete=True,
            completed_at__date__gte=since,
        )
        .exclude(billable_cpt="")
        .values_list("pk", flat=True)
    )
    for response_id in response_ids:
        try:
            if charge_for_response(response_id=response_id) is not None:
                counts["responses"] += 1
        except DomainError as exc:
            counts["problems"] += 1
            logger.info("96127 charge for response %s not created: %s", response_id, exc.message)
    fee_charged = Charge.objects.filter(source__in=FEE_SOURCES.values()).values("appointment_id")
    appointment_ids = list(
        Appointment.objects.filter(
            practice_id=practice_id, fee_due=True, status__in=tuple(FEE_SOURCES), starts_at__date__gte=since
        )
        .exclude(pk__in=fee_charged)
        .values_list("pk", flat=True)
    )
    for appointment_id in appointment_ids:
        counts["fees"] += len(charges_for_appointment_fee(appointment_id=appointment_id))
    return counts
