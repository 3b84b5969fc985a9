"""Writes for patients: demographics, MRNs, consents, diagnoses, break-the-glass, sharing.

Every function is one transaction; rule violations raise DomainError (DuplicatePatient for a
likely duplicate on create), related rows are checked to share the practice, and side effects
(the break-the-glass email) run on commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from clinical import access
from clinical.models import CommunicationConsent, Diagnosis, DiagnosisCode, EmergencyAccess, MrnCounter, Patient
from practice.errors import DomainError
from practice.permissions import Perm, Role

if TYPE_CHECKING:
    from django.http import HttpRequest

    from practice.models import Membership

MIN_BREAK_GLASS_REASON = 20

# What patient_create / patient_update accept; everything else (MRN, derived columns) is ours.
PATIENT_FIELDS: tuple[str, ...] = (
    "legal_first_name",
    "legal_middle_name",
    "legal_last_name",
    "preferred_name",
    "pronouns",
    "date_of_birth",
    "sex_assigned_at_birth",
    "gender_identity",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "email",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
    "guardian_name",
    "guardian_phone",
    "guardian_email",
    "guardian_relationship",
    "primary_clinician",
    "status",
    "chart_alert",
)

# Roles that may be a patient's primary clinician.
PRIMARY_CLINICIAN_ROLES: tuple[str, ...] = (Role.CLINICIAN, Role.SUPERVISOR, Role.OWNER)


class DuplicatePatient(DomainError):
    """A patient with the same legal first and last name and date of birth already exists."""

    def __init__(self, matches: list[Patient]) -> None:
        super().__init__(
            "A patient with this legal name and date of birth already exists.",
            field=None,
            code="duplicate",
        )
        self.matches = matches


def _require(by: Membership, perm: Perm) -> None:
    if not by.is_active or not by.has_perm(perm):
        raise DomainError("Your role does not allow this.", code="forbidden")


def _same_practice(by: Membership, *objs: Any) -> None:
    for obj in objs:
        if obj is not None and obj.practice_id != by.practice_id:
            raise DomainError("Not found.", code="not_found")


def phone_digits(phone: str) -> str:
    """Digits of a phone number, for search (a leading US country code 1 is dropped)."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits[:20]


def search_name(patient: Patient) -> str:
    parts = (patient.legal_first_name, patient.legal_middle_name, patient.legal_last_name, patient.preferred_name)
    return " ".join(p.strip().lower() for p in parts if p and p.strip())[:320]


def _clean_text(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v.strip() if isinstance(v, str) else v for k, v in fields.items()}


def _derive_and_check(patient: Patient) -> None:
    patient.phone_digits = phone_digits(patient.phone)
    patient.search_name = search_name(patient)
    if patient.state:
        patient.state = patient.state.upper()
    if patient.date_of_birth and patient.date_of_birth > timezone.localdate():
        raise DomainError("The date of birth cannot be in the future.", field="date_of_birth")
    if patient.date_of_birth and patient.is_minor and not patient.guardian_name:
        raise DomainError("A patient under 18 needs a parent or guardian on file.", field="guardian_name")
    clinician = patient.primary_clinician
    if clinician is not None:
        if clinician.practice_id != patient.practice_id:
            raise DomainError("Choose a clinician from this practice.", field="primary_clinician")
        if not clinician.is_active or clinician.role not in PRIMARY_CLINICIAN_ROLES:
            raise DomainError("The primary clinician must be an active clinician.", field="primary_clinician")


def duplicate_candidates(*, first_name: str, last_name: str, date_of_birth: date) -> QuerySet[Patient]:
    """Patients of the current practice with the same legal first and last name and date of birth."""
    return Patient.objects.filter(
        legal_first_name__iexact=first_name.strip(),
        legal_last_name__iexact=last_name.strip(),
        date_of_birth=date_of_birth,
    ).order_by("mrn")


def _counter(practice_id: int) -> MrnCounter:
    counter = MrnCounter.objects.select_for_update().filter(practice_id=practice_id).first()
    if counter is not None:
        return counter
    try:
        with transaction.atomic():
            MrnCounter.objects.create(practice_id=practice_id, next_number=1)
    except IntegrityError:
        pass  # another transaction created it first
    return MrnCounter.objects.select_for_update().get(practice_id=practice_id)


# Practice id -> [locked counter, next number] inside `mrn_batch`, or None outside one.
_mrn_batch: ContextVar[dict[int, list] | None] = ContextVar("mrn_batch", default=None)


@contextmanager
def mrn_batch() -> Iterator[None]:
    """Allocate many MRNs in one transaction (a CSV import) writing the counter row once, at the
    end. PostgreSQL keeps every version of a row updated inside one open transaction, so a counter
    saved per patient makes each lock walk all earlier versions: quadratic (20,000 patients took
    21 minutes). The row is still locked from the first allocation until commit."""
    if _mrn_batch.get() is not None:
        yield
        return
    batch: dict[int, list] = {}
    token = _mrn_batch.set(batch)
    try:
        with transaction.atomic():
            yield
            for counter, next_number in batch.values():
                counter.next_number = next_number
                counter.save(update_fields=["next_number", "updated_at"])
    finally:
        _mrn_batch.reset(token)


def _next_mrn(practice_id: int) -> str:
    """The practice's next free MRN ("P000123"); the counter row is locked until commit."""
    batch = _mrn_batch.get()
    if batch is not None and practice_id in batch:
        counter, number = batch[practice_id]
    else:
        counter = _counter(practice_id)
        number = counter.next_number
    while Patient.objects.filter(mrn=f"P{number:06d}").exists():  # imported rows may hold numbers
        number += 1
    if batch is not None:
        batch[practice_id] = [counter, number + 1]
    else:
        counter.next_number = number + 1
        counter.save(update_fields=["next_number", "updated_at"])
    return f"P{number:06d}"


def _save(patient: Patient, *, update_fields: list[str] | None = None) -> None:
    try:
        patient.full_clean(exclude=["practice"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], field=None if field == "__all__" else field) from exc
    patient.save()


@transaction.atomic
def patient_create(*, by: Membership, allow_duplicate: bool = False, **fields: Any) -> Patient:
    """Register a patient with the practice's next MRN. Refuses a likely duplicate unless told."""
    _require(by, Perm.PATIENT_EDIT_DEMOGRAPHICS)
    unknown = set(fields) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"patient_create() got unexpected fields: {sorted(unknown)}")
    patient = Patient(practice_id=by.practice_id, **_clean_text(fields))
    _derive_and_check(patient)
    if not allow_duplicate and patient.date_of_birth:
        matches = list(
            duplicate_candidates(
                first_name=patient.legal_first_name,
                last_name=patient.legal_last_name,
                date_of_birth=patient.date_of_birth,
            )
        )
        if matches:
            raise DuplicatePatient(matches)
    patient.status_changed_at = timezone.now()
    patient.mrn = _next_mrn(by.practice_id)
    _save(patient)
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, by: Membership, **fields: Any) -> Patient:
    """Change demographics; a status change is stamped with its time."""
    _require(by, Perm.PATIENT_EDIT_DEMOGRAPHICS)
    _same_practice(by, patient)
    unknown = set(fields) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"patient_update() got unexpected fields: {sorted(unknown)}")
    patient = Patient.objects.select_for_update(of=("self",)).get(pk=patient.pk)
    old_status = patient.status
    for name, value in _clean_text(fields).items():
        setattr(patient, name, value)
    _derive_and_check(patient)
    if patient.status != old_status:
        patient.status_changed_at = timezone.now()
    _save(patient)
    return patient


# --- Communication consents ------------------------------------------------------------------


@transaction.atomic
def consent_record(
    *,
    patient: Patient,
    by: Membership | None,
    channel: str,
    is_granted: bool,
    note: str = "",
    source: str = CommunicationConsent.Source.STAFF,
) -> CommunicationConsent:
    """Append a consent decision for one channel. History is kept; the newest row is current."""
    if by is not None:
        _require(by, Perm.PATIENT_EDIT_DEMOGRAPHICS)
        _same_practice(by, patient)
    if channel not in CommunicationConsent.Channel.values:
        raise DomainError("Unknown channel.", field="channel")
    if source not in CommunicationConsent.Source.values:
        raise DomainError("Unknown source.", field="source")
    return CommunicationConsent.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        channel=channel,
        is_granted=bool(is_granted),
        recorded_by=by,
        source=source,
        note=(note or "").strip()[:200],
        recorded_at=timezone.now(),
    )


# --- Diagnoses -------------------------------------------------------------------------------


def _require_clinical(by: Membership, patient: Patient) -> None:
    _same_practice(by, patient)
    _require(by, Perm.CHART_VIEW_CLINICAL)
    if not access.can_view_clinical(by, patient):
        raise DomainError("Not found.", code="not_found")


def _lock_active_diagnoses(patient: Patient) -> list[Diagnosis]:
    return list(
        Diagnosis.objects.select_for_update(of=("self",)).filter(patient=patient, resolved_on__isnull=True).order_by()
    )


@transaction.atomic
def diagnosis_add(
    *,
    patient: Patient,
    by: Membership,
    code: str,
    onset_on: date | None = None,
    is_primary: bool = False,
    rank: int | None = None,
    notes: str = "",
) -> Diagnosis:
    """Add an ICD-10-CM diagnosis. Only billable (leaf) codes; one active primary per patient.

    The first active diagnosis becomes the primary one; adding a primary demotes the old one.
    """
    _require_clinical(by, patient)
    code = (code or "").strip().upper()
    diagnosis_code = DiagnosisCode.objects.filter(code=code).first()
    if diagnosis_code is None:
        raise DomainError("Choose a code from the ICD-10-CM list.", field="code")
    if not diagnosis_code.is_billable:
        raise DomainError(
            f"{diagnosis_code.code} is a category, not a billable code: choose a more specific code under it.",
            field="code",
        )
    if onset_on and onset_on > timezone.localdate():
        raise DomainError("The onset date cannot be in the future.", field="onset_on")
    active = _lock_active_diagnoses(patient)
    if any(d.code_id == diagnosis_code.pk for d in active):
        raise DomainError(f"{diagnosis_code.code} is already an active diagnosis.", field="code")
    if not any(d.is_primary for d in active):
        is_primary = True
    if is_primary:
        Diagnosis.objects.filter(pk__in=[d.pk for d in active if d.is_primary]).update(
            is_primary=False, updated_at=timezone.now()
        )
    if rank is None:
        rank = (max((d.rank for d in active), default=0)) + 1
    return Diagnosis.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        code=diagnosis_code,
        onset_on=onset_on,
        is_primary=is_primary,
        rank=rank,
        notes=(notes or "").strip()[:300],
        added_by=by,
    )


def _locked_diagnosis(diagnosis: Diagnosis, by: Membership) -> Diagnosis:
    _same_practice(by, diagnosis)
    diagnosis = Diagnosis.objects.select_for_update(of=("self",)).select_related("patient").get(pk=diagnosis.pk)
    _require_clinical(by, diagnosis.patient)
    return diagnosis


@transaction.atomic
def diagnosis_resolve(*, diagnosis: Diagnosis, by: Membership, resolved_on: date | None = None) -> Diagnosis:
    """Mark a diagnosis resolved (kept in the history). A resolved primary leaves no primary."""
    diagnosis = _locked_diagnosis(diagnosis, by)
    if diagnosis.resolved_on is not None:
        raise DomainError("This diagnosis is already resolved.")
    resolved_on = resolved_on or timezone.localdate()
    if diagnosis.onset_on and resolved_on < diagnosis.onset_on:
        raise DomainError("A diagnosis cannot resolve before its onset.", field="resolved_on")
    diagnosis.resolved_on = resolved_on
    diagnosis.is_primary = False
    diagnosis.save(update_fields=["resolved_on", "is_primary", "updated_at"])
    return diagnosis


@transaction.atomic
def diagnosis_make_primary(*, diagnosis: Diagnosis, by: Membership) -> Diagnosis:
    diagnosis = _locked_diagnosis(diagnosis, by)
    if diagnosis.resolved_on is not None:
        raise DomainError("A resolved diagnosis cannot be primary.")
    if diagnosis.is_primary:
        return diagnosis
    _lock_active_diagnoses(diagnosis.patient)
    Diagnosis.objects.filter(patient_id=diagnosis.patient_id, resolved_on__isnull=True, is_primary=True).update(
        is_primary=False, updated_at=timezone.now()
    )
    diagnosis.is_primary = True
    diagnosis.save(update_fields=["is_primary", "updated_at"])
    return diagnosis


# --- Break-the-glass and sharing -------------------------------------------------------------


@transaction.atomic
def emergency_access_open(
    *, patient: Patient, by: Membership, reason: str, request: HttpRequest | None = None
) -> EmergencyAccess:
    """Open a chart outside the caseload for BREAK_GLASS_HOURS, with a written reason.

    Writes a ``break_glass`` access event (with the reason) in the same transaction and emails
    the practice's owners and admins on commit (ids only; the email carries no PHI).
    """
    from practice.audit import access_record, chain_append
    from practice.models import AccessEvent

    _same_practice(by, patient)
    _require(by, Perm.CHART_BREAK_GLASS)
    reason = (reason or "").strip()
    if len(reason) < MIN_BREAK_GLASS_REASON:
        raise DomainError(
            f"Say why you need this chart (at least {MIN_BREAK_GLASS_REASON} characters).", field="reason"
        )
    if access.can_view_clinical(by, patient):
        raise DomainError("You already have access to this chart.", code="already_allowed")
    grant = EmergencyAccess.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        membership=by,
        reason=reason,
        expires_at=timezone.now() + timedelta(hours=access.BREAK_GLASS_HOURS),
    )
    if request is not None:
        access_record(request=request, action=AccessEvent.Action.BREAK_GLASS, target=patient, reason=reason)
    else:
        chain_append(
            AccessEvent,
            {
                "practice_id": patient.practice_id,
                "user_id": by.user_id,
                "action": AccessEvent.Action.BREAK_GLASS,
                "object_type": "clinical.patient",
                "object_id": str(patient.public_id),
                "patient_id": patient.public_id,
                "reason": reason,
            },
        )
    from clinical.tasks_patients import emergency_access_notify_task

    practice_id, grant_id = grant.practice_id, grant.pk
    transaction.on_commit(
        lambda: emergency_access_notify_task.delay(practice_id=practice_id, emergency_access_id=grant_id)
    )
    return grant


def emergency_access_notify(*, emergency_access_id: int) -> int:
    """Email the practice's active owners and admins that emergency access was used.

    Runs once per access: the claim is an atomic cache ``add``, so a re-run sends nothing. The
    email names no patient and no reason: the reader follows the link to the log.
    """
    from django.core.cache import cache
    from django.core.mail import send_mail
    from django.urls import reverse

    from practice.models import Membership
    from practice.services import site_url

    grant = EmergencyAccess.objects.select_related("practice").filter(pk=emergency_access_id).first()
    if grant is None:
        return 0
    claim_key = f"tend:breakglass-notified:{grant.public_id}"
    if not cache.add(claim_key, 1, timeout=60 * 60 * 24 * 30):
        return 0
    recipients = sorted(
        Membership.objects.filter(is_active=True, role__in=[Role.OWNER, Role.ADMIN]).values_list(
            "user__email", flat=True
        )
    )
    if not recipients:
        return 0
    practice = grant.practice
    url = site_url() + reverse("break_glass_log", kwargs={"practice_slug": practice.slug})
    try:
        send_mail(
            subject=f"Emergency access used in {practice.name}",
            message=(
                f"A member of {practice.name} used emergency (break-the-glass) access to a patient's chart.\n\n"
                f"See the break-the-glass log to review it:\n{url}\n\n"
                "This email does not name the patient or the member; the log does, after you sign in.\n"
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        cache.delete(claim_key)  # let the retry send it
        raise
    return len(recipients)


@transaction.atomic
def emergency_access_review(*, emergency_access: EmergencyAccess, by: Membership) -> EmergencyAccess:
    """An admin marks a break-the-glass access as reviewed."""
    _require(by, Perm.AUDIT_VIEW)
    _same_practice(by, emergency_access)
    grant = EmergencyAccess.objects.select_for_update(of=("self",)).get(pk=emergency_access.pk)
    if grant.reviewed_at is None:
        grant.reviewed_by, grant.reviewed_at = by, timezone.now()
        grant.save(update_fields=["reviewed_by", "reviewed_at", "updated_at"])
    return grant


@transaction.atomic
def patient_share(*, patient: Patient, by: Membership, to_membership: Membership) -> None:
    """Give a colleague access to this patient (they see the chart as part of their caseload)."""
    from practice.services import object_access_grant

    _require(by, Perm.PATIENT_EDIT_DEMOGRAPHICS)
    _same_practice(by, patient, to_membership)
    if not access.can_view_demographics(by, patient):
        raise DomainError("Not found.", code="not_found")
    if to_membership.pk == by.pk:
        raise DomainError("You cannot share a patient with yourself.", field="to_membership")
    if not to_membership.is_active or not to_membership.has_perm(Perm.CHART_VIEW_CLINICAL):
        raise DomainError("Share only with an active clinician.", field="to_membership")
    object_access_grant(by=by, to=to_membership, obj=patient, codename="view_patient")


def next_rank(patient: Patient) -> int:
    top = Diagnosis.objects.filter(patient=patient, resolved_on__isnull=True).aggregate(top=Max("rank"))["top"]
    return (top or 0) + 1
