"""Intake packet writes: the patient fills it in step by step (partial progress kept), signs consents,
attaches card photos and submits; staff accept it into the chart (demographics, coverage, documents)
in one transaction, or return it with a note. Packet and consent setup live here too.

Answers are kept in `IntakeSubmission.data[str(step.pk)]` as plain JSON (dates as ISO strings);
`completed_steps` lists the step pks the patient has saved.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from clinical.models import Document, Patient
from clinical.services.records import DOCUMENT_TYPES, _read_and_hash, detect_content_type
from portal.models import (
    ConsentDocument,
    IntakePacket,
    IntakeSignature,
    IntakeStep,
    IntakeSubmission,
    IntakeUpload,
    PortalAccess,
    Relationship,
)
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm, Role

EDITABLE = (IntakeSubmission.Status.IN_PROGRESS, IntakeSubmission.Status.RETURNED)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_name(name: str) -> str:
    """Case-, space- and punctuation-insensitive form of a typed name ("  mary-jo  SMITH" ~ "Mary Jo Smith")."""
    return " ".join(re.sub(r"[^\w\s]", " ", name or "").casefold().split())


def _lock(submission: IntakeSubmission) -> IntakeSubmission:
    return IntakeSubmission.objects.select_for_update(of=("self",)).get(pk=submission.pk)


def _editable(submission: IntakeSubmission) -> IntakeSubmission:
    locked = _lock(submission)
    if locked.status not in EDITABLE:
        raise DomainError("These forms were sent to the practice and can no longer be changed.", code="not_editable")
    return locked


def _step_of(submission: IntakeSubmission, step: IntakeStep) -> None:
    if step.packet_id != submission.packet_id or step.practice_id != submission.practice_id:
        raise DomainError("Not found.", code="not_found")


# --- Patient side ------------------------------------------------------------------------------


@transaction.atomic
def submission_start(*, access: PortalAccess, packet: IntakePacket) -> IntakeSubmission:
    """The patient's open submission of this packet (in progress or returned), else a new one."""
    if packet.practice_id != access.practice_id or not packet.is_active:
        raise DomainError("This form packet is not available.", code="not_found")
    Patient.objects.select_for_update().filter(pk=access.patient_id).values_list("pk", flat=True).first()
    open_one = (
        IntakeSubmission.objects.filter(patient_id=access.patient_id, packet=packet, status__in=EDITABLE)
        .order_by("-created_at")
        .first()
    )
    if open_one is not None:
        return open_one
    return IntakeSubmission.objects.create(
        practice_id=access.practice_id, patient_id=access.patient_id, packet=packet, started_by=access.user
    )


def _mark_done(submission: IntakeSubmission, step: IntakeStep, done: bool = True) -> None:
    steps = [pk for pk in submission.completed_steps if pk != step.pk]
    if done:
        steps.append(step.pk)
    submission.completed_steps = sorted(steps)


@transaction.atomic
def step_save(*, submission: IntakeSubmission, step: IntakeStep, answers: dict[str, Any]) -> IntakeSubmission:
    """Keep one step's answers (already validated by its form) and mark the step complete."""
    _step_of(submission, step)
    locked = _editable(submission)
    data = dict(locked.data)
    previous = data.get(str(step.pk)) or {}
    kept = {k: v for k, v in previous.items() if k in ("signature_id", "administrations")}
    data[str(step.pk)] = {**kept, **answers}
    locked.data = data
    _mark_done(locked, step)
    locked.save(update_fields=["data", "completed_steps", "updated_at"])
    return locked


@transaction.atomic
def upload_add(*, submission: IntakeSubmission, kind: str, uploaded_file: UploadedFile | None) -> IntakeUpload:
    """Attach a card photo, checked like chart documents: size limit and real type from the bytes."""
    from django.conf import settings

    locked = _editable(submission)
    if kind not in (IntakeUpload.Kind.CARD_FRONT, IntakeUpload.Kind.CARD_BACK):
        raise DomainError("Choose the front or the back of the card.", field="kind")
    limit = settings.TEND_MAX_UPLOAD_BYTES
    too_big = f"The file is larger than {limit // (1024 * 1024)} MB."
    if uploaded_file is None:
        raise DomainError("Choose a file to upload.", field="file")
    if uploaded_file.size is not None and uploaded_file.size > limit:
        raise DomainError(too_big, field="file")
    head, sha256, size = _read_and_hash(uploaded_file)
    if size == 0:
        raise DomainError("The file is empty.", field="file")
    if size > limit:
        raise DomainError(too_big, field="file")
    content_type = detect_content_type(head)
    if content_type is None:
        raise DomainError("Upload a photo (JPEG, PNG or HEIC) or a PDF. This file is another type.", field="file")
    upload = IntakeUpload(
        practice_id=locked.practice_id,
        submission=locked,
        kind=kind,
        content_type=content_type,
        size_bytes=size,
        sha256=sha256,
        original_filename=(uploaded_file.name or "")[-255:],
    )
    # A random stored name: nothing of the patient's file name reaches the file system.
    upload.file.save(f"{uuid.uuid4().hex}.{DOCUMENT_TYPES[content_type]}", uploaded_file, save=False)
    try:
        upload.save()
    except Exception:
        upload.file.storage.delete(upload.file.name)
        raise
    return upload


def current_uploads(submission: IntakeSubmission) -> dict[str, IntakeUpload]:
    """The newest upload of each kind (a new photo replaces the old one)."""
    latest: dict[str, IntakeUpload] = {}
    for upload in submission.uploads.all():
        latest[upload.kind] = upload  # ordered oldest first
    return latest


def signer_names(patient: Patient, relationship: str) -> list[str]:
    """The names a signature may match: the patient's legal name (with or without the middle name),
    or, for a guardian, the guardian on file."""
    if relationship == Relationship.GUARDIAN:
        return [patient.guardian_name] if patient.guardian_name else []
    return [patient.legal_name, f"{patient.legal_first_name} {patient.legal_last_name}"]


@transaction.atomic
def consent_sign(
    *,
    submission: IntakeSubmission,
    step: IntakeStep,
    access: PortalAccess,
    typed_name: str,
    agreed: bool,
    ip_address: str | None,
    user_agent: str,
) -> IntakeSignature:
    """E-sign the step's consent: the typed name must match the patient's (or, for a minor, the
    guardian's) legal name loosely; records the exact version and text hash, IP, agent and time."""
    _step_of(submission, step)
    if access.patient_id != submission.patient_id:
        raise DomainError("Not found.", code="not_found")
    locked = _editable(submission)
    consent = step.consent
    if step.kind != IntakeStep.Kind.CONSENT or consent is None:
        raise DomainError("This step has nothing to sign.")
    patient = locked.patient
    if not agreed:
        raise DomainError("Tick the box to say you have read and agree.", field="agree")
    if patient.is_minor and access.relationship != Relationship.GUARDIAN:
        raise DomainError("A parent or guardian signs for a patient under 18.", field="typed_name")
    typed = " ".join((typed_name or "").split())
    if not typed:
        raise DomainError("Type your full legal name.", field="typed_name")
    if normalise_name(typed) not in {normalise_name(n) for n in signer_names(patient, access.relationship)}:
        who = "the parent or guardian on file" if access.relationship == Relationship.GUARDIAN else "your legal name"
        raise DomainError(f"The name does not match {who}. Type it as it appears on file.", field="typed_name")
    if sha256_text(consent.body) != consent.body_sha256:
        raise DomainError("This consent text changed; reload the page.", code="consent_changed")
    signature = IntakeSignature.objects.create(
        practice_id=locked.practice_id,
        submission=locked,
        consent=consent,
        consent_version=consent.version,
        consent_sha256=consent.body_sha256,
        typed_name=typed[:200],
        signer=access.user,
        signer_relationship=access.relationship,
        signed_at=timezone.now(),
        ip_address=ip_address or None,
        user_agent=(user_agent or "")[:300],
    )
    data = dict(locked.data)
    data[str(step.pk)] = {"signature_id": str(signature.public_id), "consent_version": consent.version}
    locked.data = data
    _mark_done(locked, step)
    locked.save(update_fields=["data", "completed_steps", "updated_at"])
    return signature


def questionnaire_requester(patient: Patient) -> Membership | None:
    """Who requests intake questionnaires: the patient's primary clinician, else a practice owner."""
    clinician = patient.primary_clinician
    if clinician is not None and clinician.is_active and clinician.has_perm(Perm.ASSESSMENT_ASSIGN):
        return clinician
    return (
        Membership.objects.filter(practice_id=patient.practice_id, role=Role.OWNER, is_active=True)
        .order_by("id")
        .first()
    )


@transaction.atomic
def questionnaires_ensure(*, submission: IntakeSubmission, step: IntakeStep) -> dict[str, Any]:
    """A portal Administration for each instrument of the step (made once, reused); marks the step
    complete when all of them are completed. Returns {code: Administration}."""
    from assessments.models import Administration, DeliveryChannel
    from assessments.services_delivery import administration_request

    _step_of(submission, step)
    locked = _lock(submission)
    data = dict(locked.data)
    answers = dict(data.get(str(step.pk)) or {})
    linked: dict[str, str] = dict(answers.get("administrations") or {})
    by_id = {
        str(a.public_id): a
        for a in Administration.objects.filter(patient_id=locked.patient_id, public_id__in=list(linked.values()))
    }
    result: dict[str, Any] = {}
    changed = False
    for code in step.instrument_codes:
        administration = by_id.get(linked.get(code, ""))
        usable = administration is not None and administration.status not in (
            Administration.Status.CANCELLED,
            Administration.Status.EXPIRED,
        )
        if not usable and locked.status in EDITABLE:
            requester = questionnaire_requester(locked.patient)
            if requester is None:
                raise DomainError("The practice has not set up questionnaires yet.")
            administration = administration_request(
                patient=locked.patient, instrument_code=code, channel=DeliveryChannel.PORTAL, by=requester
            )
            linked[code] = str(administration.public_id)
            changed = True
        if administration is not None:
            result[code] = administration
    done = bool(result) and all(a.status == Administration.Status.COMPLETED for a in result.values())
    was_done = step.pk in locked.completed_steps
    if changed or done != was_done:
        answers["administrations"] = linked
        data[str(step.pk)] = answers
        locked.data = data
        if locked.status in EDITABLE:
            _mark_done(locked, step, done)
        locked.save(update_fields=["data", "completed_steps", "updated_at"])
    submission.data, submission.completed_steps = locked.data, locked.completed_steps
    return result


@transaction.atomic
def submission_submit(*, submission: IntakeSubmission) -> IntakeSubmission:
    locked = _editable(submission)
    steps = list(locked.packet.steps.all())
    for step in steps:
        if step.kind == IntakeStep.Kind.QUESTIONNAIRES:
            questionnaires_ensure(submission=locked, step=step)
            locked = _lock(locked)
    missing = [s.title for s in steps if s.pk not in locked.completed_steps]
    if missing:
        raise DomainError("Finish these steps first: " + ", ".join(missing) + ".", code="incomplete")
    locked.status = IntakeSubmission.Status.SUBMITTED
    locked.submitted_at = timezone.now()
    locked.review_note = ""
    locked.save(update_fields=["status", "submitted_at", "review_note", "updated_at"])
    return locked


# --- Staff review ------------------------------------------------------------------------------


def _require_reviewer(by: Membership, submission: IntakeSubmission) -> None:
    from clinical.access import can_view_demographics

    if by.practice_id != submission.practice_id or not by.has_perm(Perm.INTAKE_REVIEW):
        raise PermissionDenied
    if not can_view_demographics(by, submission.patient):
        raise DomainError("Not found.", code="not_found")


def _claim_for_review(submission: IntakeSubmission, by: Membership) -> IntakeSubmission:
    _require_reviewer(by, submission)
    locked = _lock(submission)
    if locked.status != IntakeSubmission.Status.SUBMITTED:
        raise DomainError(
            f"This submission is {locked.get_status_display().lower()}, not waiting for review.", code="not_submitted"
        )
    return locked


def answers_of(submission: IntakeSubmission, kind: str) -> list[tuple[IntakeStep, dict[str, Any]]]:
    return [(s, submission.data.get(str(s.pk)) or {}) for s in submission.packet.steps.all() if s.kind == kind]


def _document(
    *, patient: Patient, by: Membership, category: str, title: str, content: bytes, filename: str, **extra: Any
) -> Document:
    content_type = detect_content_type(content[:8192])
    if content_type is None:
        raise DomainError(f"{title}: the file is not a PDF or an image.")
    document = Document(
        practice_id=patient.practice_id,
        patient=patient,
        category=category,
        title=title[:200],
        content_type=content_type,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        original_filename=filename[-255:],
        uploaded_by=by,
        **extra,
    )
    document.file.save(f"{uuid.uuid4().hex}.{DOCUMENT_TYPES[content_type]}", ContentFile(content), save=False)
    document.save()
    return document


def _coverage_from(
    *, patient: Patient, answers: dict[str, Any], payer_override: Any, by: Membership
) -> tuple[Any, str]:
    """Write the primary coverage (or self-pay) from the insurance answers. Returns (coverage, note)."""
    from billing.models import Coverage, Payer
    from billing.services_setup import coverage_save, patient_billing_settings_save

    if answers.get("has_insurance") != "yes":
        current = getattr(patient, "billing_settings", None)
        patient_billing_settings_save(
            patient=patient, self_pay=True, sliding_scale_tier=current.sliding_scale_tier if current else None
        )
        return None, "self-pay"
    payer = payer_override
    if payer is None and answers.get("payer") not in ("", "other", None):
        payer = Payer.objects.filter(public_id=answers["payer"]).first()
    if payer is None:
        raise DomainError(
            "The patient named an insurance company that is not on the list: choose the payer.", field="payer"
        )
    relationship = answers.get("relationship") or Coverage.Relationship.SELF
    data: dict[str, Any] = {
        "payer": payer,
        "priority": Coverage.Priority.PRIMARY,
        "member_id": answers.get("member_id", ""),
        "group_number": answers.get("group_number", ""),
        "relationship": relationship,
        "is_active": True,
    }
    if relationship != Coverage.Relationship.SELF:
        dob = answers.get("subscriber_date_of_birth")
        data.update(
            subscriber_first_name=answers.get("subscriber_first_name", ""),
            subscriber_last_name=answers.get("subscriber_last_name", ""),
            subscriber_date_of_birth=date.fromisoformat(dob) if dob else None,
            subscriber_sex=answers.get("subscriber_sex", ""),
            # The subscriber shares the patient's address unless staff change it on the coverage page.
            subscriber_address_line1=patient.address_line1[:55],
            subscriber_city=patient.city[:30],
            subscriber_state=patient.state,
            subscriber_zip_code=patient.postal_code.replace("-", "")[:9],
        )
    existing = (
        Coverage.objects.filter(patient=patient, is_active=True, priority=Coverage.Priority.PRIMARY)
        .order_by("-id")
        .first()
    )
    coverage = coverage_save(patient=patient, coverage=existing, data=data, by=by)
    return coverage, "updated" if existing else "created"


@transaction.atomic
def intake_accept(*, submission: IntakeSubmission, by: Membership, payer: Any = None) -> IntakeSubmission:
    """Write an accepted submission into the chart, all or nothing:
    demographics (the fields the patient filled) -> patient_update; insurance -> the primary Coverage
    (created or updated; self-pay otherwise); card photos -> insurance Documents; each signature ->
    a consent Document (the exact text + signature block, PDF); history -> an intake Document (PDF).
    A second accept is refused (the submission is no longer waiting)."""
    from clinical.services.patients import patient_update
    from portal import pdf_intake

    locked = _claim_for_review(submission, by)
    patient = Patient.objects.select_for_update(of=("self",)).get(pk=locked.patient_id)

    fields: dict[str, Any] = {}
    for _step, answers in answers_of(locked, IntakeStep.Kind.DEMOGRAPHICS):
        fields.update({k: v for k, v in answers.items() if v not in ("", None)})
    if fields:
        patient = patient_update(patient=patient, by=by, **fields)

    for _step, answers in answers_of(locked, IntakeStep.Kind.INSURANCE):
        if answers:
            _coverage_from(patient=patient, answers=answers, payer_override=payer, by=by)
    for upload in current_uploads(locked).values():
        with upload.file.open("rb") as handle:
            content = handle.read()
        document = _document(
            patient=patient,
            by=by,
            category=Document.Category.INSURANCE,
            title=upload.get_kind_display(),
            content=content,
            filename=upload.original_filename or upload.file.name,
        )
        upload.document = document
        upload.save(update_fields=["document", "updated_at"])

    for signature in locked.signatures.select_related("consent", "signer").order_by("signed_at", "id"):
        pdf = pdf_intake.consent_pdf(signature=signature, patient=patient)
        _document(
            patient=patient,
            by=by,
            category=Document.Category.CONSENT,
            title=f"{signature.consent.title} (version {signature.consent_version})",
            content=pdf,
            filename=f"consent-{signature.consent.key}-v{signature.consent_version}.pdf",
            signed_by_name=signature.typed_name,
            signed_at=signature.signed_at,
        )

    history = [answers for _step, answers in answers_of(locked, IntakeStep.Kind.HISTORY) if answers]
    if history:
        pdf = pdf_intake.history_pdf(submission=locked, patient=patient, answers=history)
        _document(
            patient=patient,
            by=by,
            category=Document.Category.INTAKE,
            title=f"Intake health history ({timezone.localdate(locked.submitted_at or timezone.now()):%Y-%m-%d})",
            content=pdf,
            filename="intake-history.pdf",
        )

    locked.status = IntakeSubmission.Status.ACCEPTED
    locked.reviewed_by = by
    locked.reviewed_at = timezone.now()
    locked.save(update_fields=["status", "reviewed_by", "reviewed_at", "updated_at"])
    return locked


@transaction.atomic
def intake_return(*, submission: IntakeSubmission, by: Membership, note: str) -> IntakeSubmission:
    """Send the submission back to the patient with a note; their answers stay for them to correct."""
    locked = _claim_for_review(submission, by)
    note = " ".join((note or "").split())
    if not note:
        raise DomainError("Write a note telling the patient what to change.", field="note")
    locked.status = IntakeSubmission.Status.RETURNED
    locked.review_note = note[:500]
    locked.reviewed_by = by
    locked.reviewed_at = timezone.now()
    locked.save(update_fields=["status", "review_note", "reviewed_by", "reviewed_at", "updated_at"])
    return locked


# --- Setup -------------------------------------------------------------------------------------


def _require_settings(by: Membership | None, practice_id: int) -> None:
    if by is not None and (by.practice_id != practice_id or not by.has_perm(Perm.PORTAL_MANAGE_SETTINGS)):
        raise PermissionDenied


@transaction.atomic
def consent_create(*, practice, key: str, title: str, body: str, by: Membership | None = None) -> ConsentDocument:
    _require_settings(by, practice.pk)
    body = (body or "").strip()
    if not body or not (title or "").strip():
        raise DomainError("Give the consent a title and a text.")
    if ConsentDocument.objects.filter(practice=practice, key=key).exists():
        raise DomainError("A consent with this key exists: add a new version of it instead.", field="key")
    return ConsentDocument.objects.create(
        practice=practice, key=key, title=title.strip(), version=1, body=body, body_sha256=sha256_text(body)
    )


@transaction.atomic
def consent_new_version(*, consent: ConsentDocument, title: str, body: str, by: Membership | None = None):
    """A new version (version + 1) becomes current; older ones stay, unchanged, for their signatures.
    Packet steps that pointed at the old version point at the new one (new signers sign the new text)."""
    _require_settings(by, consent.practice_id)
    body = (body or "").strip()
    if not body or not (title or "").strip():
        raise DomainError("Give the consent a title and a text.")
    versions = ConsentDocument.objects.select_for_update().filter(practice_id=consent.practice_id, key=consent.key)
    latest = max(v.version for v in versions)
    if sha256_text(body) == versions.get(version=latest).body_sha256 and title.strip() == consent.title:
        raise DomainError("The text is unchanged.", field="body")
    versions.update(is_current=False, updated_at=timezone.now())
    new = ConsentDocument.objects.create(
        practice_id=consent.practice_id,
        key=consent.key,
        title=title.strip(),
        version=latest + 1,
        body=body,
        body_sha256=sha256_text(body),
        is_current=True,
    )
    IntakeStep.objects.filter(consent__key=consent.key, consent__practice_id=consent.practice_id).update(
        consent=new, updated_at=timezone.now()
    )
    return new


@transaction.atomic
def packet_create(
    *,
    practice,
    name: str,
    steps: list[dict[str, Any]],
    description: str = "",
    is_default: bool = False,
    by: Membership | None = None,
) -> IntakePacket:
    """A packet with ordered steps ({kind, title, consent_key?, instrument_codes?})."""
    from assessments.library import instrument_or_none
    from portal.access import portal_settings_for

    _require_settings(by, practice.pk)
    if not (name or "").strip():
        raise DomainError("Name the packet.", field="name")
    packet = IntakePacket.objects.create(practice=practice, name=name.strip(), description=(description or "").strip())
    for position, spec in enumerate(steps, start=1):
        kind = spec["kind"]
        if kind not in IntakeStep.Kind.values:
            raise DomainError(f"Step {position}: unknown kind.", field="steps")
        consent = None
        if kind == IntakeStep.Kind.CONSENT:
            consent = ConsentDocument.objects.filter(
                practice=practice, key=spec.get("consent_key", ""), is_current=True
            ).first()
            if consent is None:
                raise DomainError(
                    f"Step {position}: no consent with the key '{spec.get('consent_key')}'.", field="steps"
                )
        codes: list[str] = []
        if kind == IntakeStep.Kind.QUESTIONNAIRES:
            for code in spec.get("instrument_codes") or []:
                instrument = instrument_or_none(code)
                if instrument is None:
                    raise DomainError(f"Step {position}: '{code}' is not a questionnaire.", field="steps")
                codes.append(instrument.code)
        IntakeStep.objects.create(
            practice=practice,
            packet=packet,
            position=position,
            kind=kind,
            title=(spec.get("title") or IntakeStep.Kind(kind).label)[:120],
            consent=consent,
            instrument_codes=codes,
        )
    if is_default:
        settings = portal_settings_for(practice)
        settings.intake_packet = packet
        settings.save(update_fields=["intake_packet", "updated_at"])
    return packet
