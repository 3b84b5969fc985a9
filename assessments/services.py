"""Writes for assessments: recording a scored response (every path that scores comes through
`response_record`), corrections, and the practice's assessment settings.

Delivery (protocols, administrations, links) lives in `services_delivery.py`; risk alerts in
`services_alerts.py`; the per-measure outcome summary in `summary.py`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone

from assessments.library import get_instrument, instrument_or_none
from assessments.models import Administration, AssessmentSettings, Response
from assessments.scoring import InvalidAnswers, score_answers
from clinical.models import Patient
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm

logger = logging.getLogger(__name__)

# Sent (on commit) for every new scored response with a billable CPT (96127). Billing listens and
# adds the charge line to that day's encounter, then sets `Response.charge_recorded_at`; until
# billing exists nobody listens and the responses wait with `charge_recorded_at` empty.
response_billable = Signal()  # kwargs: practice_id, response_id


def assessment_settings_get(*, practice_id: int) -> AssessmentSettings:
    """The practice's settings row (created with defaults on first use)."""
    found = AssessmentSettings.objects.filter(practice_id=practice_id).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return AssessmentSettings.objects.create(practice_id=practice_id)
    except IntegrityError:  # a concurrent first use created it
        return AssessmentSettings.objects.get(practice_id=practice_id)


SETTINGS_FIELDS = ("link_valid_hours", "send_hours_before", "escalate_after_minutes", "bill_screening_cpt")


@transaction.atomic
def assessment_settings_update(*, by: Membership, **fields: Any) -> AssessmentSettings:
    if not by.has_perm(Perm.PRACTICE_MANAGE_SETTINGS):
        raise DomainError("Your role does not allow this.", code="forbidden")
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise DomainError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    row = assessment_settings_get(practice_id=by.practice_id)
    for name, value in fields.items():
        setattr(row, name, value)
    from django.core.exceptions import ValidationError

    try:
        row.full_clean(exclude=["practice"])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], field=field) from exc
    row.save()
    return row


def _validate_subject(*, patient: Patient, by: Membership | None, administration: Administration | None) -> None:
    if by is not None and by.practice_id != patient.practice_id:
        raise DomainError("Not found.", code="not_found")
    if administration is not None and (
        administration.practice_id != patient.practice_id or administration.patient_id != patient.pk
    ):
        raise DomainError("Not found.", code="not_found")


@transaction.atomic
def response_record(
    *,
    patient: Patient,
    instrument_code: str,
    answers: list[Any],
    mode: str,
    by: Membership | None = None,
    administration: Administration | None = None,
    difficulty: int | None = None,
    sex: str | None = None,
    completed_at: datetime | None = None,
    corrects: Response | None = None,
    correction_reason: str = "",
) -> Response:
    """Score and store a completed questionnaire; open a risk alert when it is flagged.

    Completing an administration is idempotent: the administration row is locked, and a second
    submit returns the response the first one stored (nothing new is written). An invalid answer
    raises DomainError(field="answers") naming the item, and nothing is written.
    """
    instrument = instrument_or_none(instrument_code)
    if instrument is None:
        raise DomainError("Unknown instrument.", field="instrument_code")
    if mode not in Response.Mode.values:
        raise DomainError("Unknown way of completing the questionnaire.", field="mode")
    _validate_subject(patient=patient, by=by, administration=administration)
    if mode in (Response.Mode.CLINICIAN, Response.Mode.PAPER) and by is None:
        raise DomainError("Record who administered or entered the questionnaire.", field="mode")

    if administration is not None:
        administration = Administration.objects.select_for_update().get(pk=administration.pk)
        existing = Response.objects.filter(administration=administration).first()
        if existing is not None:
            return existing  # double submit: the first response stands
        if administration.instrument_code != instrument.code:
            raise DomainError("This questionnaire is for another instrument.", field="instrument_code")
        if administration.status in (Administration.Status.CANCELLED, Administration.Status.EXPIRED):
            raise DomainError("This questionnaire is no longer open.", code="closed")

    if corrects is not None:
        corrects = Response.objects.select_for_update().get(pk=corrects.pk)
        if corrects.patient_id != patient.pk or corrects.instrument_code != instrument.code:
            raise DomainError("A correction must be of the same patient and instrument.", field="corrects")
        if Response.objects.filter(corrects=corrects).exists():
            raise DomainError("That response has already been corrected; correct the newest one.", field="corrects")
        if not correction_reason.strip():
            raise DomainError("Say why the response is being corrected.", field="correction_reason")
        if by is None:
            raise DomainError("Record who made the correction.", field="corrects")

    if instrument.requires_sex and sex is None:
        sex = _sex_for_cutoffs(patient)
    try:
        score = score_answers(instrument.code, list(answers), sex=sex, difficulty=difficulty)
    except InvalidAnswers as exc:
        raise DomainError(str(exc), field="answers") from exc

    response = Response.objects.create(
        practice_id=patient.practice_id,
        patient=patient,
        administration=administration,
        instrument_code=instrument.code,
        instrument_version=instrument.version,
        answers=list(answers),
        difficulty=difficulty,
        sex=sex or "",
        total=score.total,
        severity=score.severity or "",
        severity_label=score.severity_label or "",
        flags=sorted(score.flags),
        positive_screen=score.positive_screen,
        is_complete=score.is_complete,
        subscores=dict(score.subscores or {}),
        mode=mode,
        administered_by=by if mode in (Response.Mode.CLINICIAN, Response.Mode.PAPER) or corrects else None,
        completed_at=completed_at or timezone.now(),
        corrects=corrects,
        correction_reason=correction_reason.strip()[:300],
        billable_cpt=instrument.billable_cpt if score.is_complete and instrument.billable_cpt else "",
    )
    if administration is not None:
        administration.status = Administration.Status.COMPLETED
        administration.completed_at = response.completed_at
        administration.save(update_fields=["status", "completed_at", "updated_at"])

    from assessments.services_alerts import risk_alert_open_for_response
    from assessments.summary import measure_summary_refresh

    measure_summary_refresh(patient_id=patient.pk, instrument_code=instrument.code)
    risk_alert_open_for_response(response=response)
    from integrations.webhooks import webhook_emit  # ids only, sent on commit

    webhook_emit(
        response.practice_id,
        "assessment.completed",
        {"object": "assessment_response", "id": str(response.public_id), "status": "completed"},
    )
    if response.billable_cpt and assessment_settings_get(practice_id=patient.practice_id).bill_screening_cpt:
        practice_id, response_id = patient.practice_id, response.pk
        transaction.on_commit(
            lambda: response_billable.send(sender=Response, practice_id=practice_id, response_id=response_id)
        )
    return response


def _sex_for_cutoffs(patient: Patient) -> str | None:
    value = (patient.sex_assigned_at_birth or "").lower()
    if value in ("male", "m"):
        return "male"
    if value in ("female", "f"):
        return "female"
    return None


def response_correct(
    *, original: Response, by: Membership, answers: list[Any], reason: str, difficulty: int | None = None
) -> Response:
    """A corrected copy of a completed response (the original stays, marked as corrected)."""
    if not by.has_perm(Perm.ASSESSMENT_ASSIGN):
        raise DomainError("Your role does not allow this.", code="forbidden")
    get_instrument(original.instrument_code)
    return response_record(
        patient=original.patient,
        instrument_code=original.instrument_code,
        answers=answers,
        mode=Response.Mode.CLINICIAN if original.mode != Response.Mode.PAPER else Response.Mode.PAPER,
        by=by,
        difficulty=difficulty,
        sex=original.sex or None,
        completed_at=original.completed_at,
        corrects=original,
        correction_reason=reason,
    )
