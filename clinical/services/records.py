"""Medications, prescriptions and patient documents (writes)."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date
from typing import Any

import filetype
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from clinical.models import Document, Medication, Patient, Prescription
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm

# Credentials that carry prescriptive authority in the US for the drugs a mental-health practice
# prescribes: physicians (MD, DO), nurse practitioners (NP, and the psychiatric-mental-health NP,
# PMHNP) and physician assistants (PA). Matched against the member's title ("PMHNP-BC", "M.D.",
# "PA-C" count). A stop-gap until memberships carry a licence and DEA number of their own.
PRESCRIBER_TITLES: frozenset[str] = frozenset({"MD", "DO", "NP", "PMHNP", "PA"})

MEDICATION_FIELDS = (
    "name",
    "dose",
    "frequency",
    "route",
    "prescriber_name",
    "prescribed_by",
    "started_on",
    "stopped_on",
    "notes",
)

# Content types accepted for patient documents, detected from the file's bytes (never its name),
# with the extension the stored file gets.
DOCUMENT_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/heic": "heic",
}
# Categories that may carry a typed e-signature (the patient's consent or authorisation).
SIGNABLE_CATEGORIES = frozenset({Document.Category.CONSENT, Document.Category.ROI})


def _require_clinical_writer(by: Membership, patient: Patient) -> None:
    if by.practice_id != patient.practice_id or not by.has_perm(Perm.NOTE_WRITE):
        raise PermissionDenied


def _raise_validation(exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.message_dict.items()))
        raise DomainError(errors[0], field=field) from exc
    raise DomainError(exc.messages[0]) from exc


# --- Medications ---------------------------------------------------------------------------------


@transaction.atomic
def medication_save(
    *, patient: Patient, by: Membership, medication: Medication | None = None, **fields: Any
) -> Medication:
    """Record a new medication or change one of this patient's (stopped_on is never before started_on)."""
    _require_clinical_writer(by, patient)
    unknown = set(fields) - set(MEDICATION_FIELDS)
    if unknown:
        raise TypeError(f"medication_save() got unexpected fields: {sorted(unknown)}")
    if medication is None:
        medication = Medication(practice_id=patient.practice_id, patient=patient, recorded_by=by)
    else:
        medication = Medication.objects.select_for_update().get(pk=medication.pk)
        if medication.patient_id != patient.pk:
            raise DomainError("This medication belongs to another patient.")
    prescribed_by = fields.get("prescribed_by")
    if prescribed_by is not None and prescribed_by.practice_id != patient.practice_id:
        raise DomainError("Choose a prescriber from this practice.", field="prescribed_by")
    for name, value in fields.items():
        setattr(medication, name, value.strip() if isinstance(value, str) else value)
    if not medication.name:
        raise DomainError("Enter the medication's name.", field="name")
    if medication.started_on and medication.stopped_on and medication.stopped_on < medication.started_on:
        raise DomainError("The stop date cannot be before the start date.", field="stopped_on")
    try:
        medication.full_clean()
    except ValidationError as exc:
        _raise_validation(exc)
    medication.save()
    return medication


def can_prescribe(member: Membership) -> bool:
    """A member with NOTE_WRITE whose title names a prescribing credential (PRESCRIBER_TITLES)."""
    if not member.has_perm(Perm.NOTE_WRITE):
        return False
    tokens = re.split(r"[^A-Z]+", (member.title or "").upper().replace(".", ""))
    return any(token in PRESCRIBER_TITLES for token in tokens)


@transaction.atomic
def prescription_create(
    *,
    medication: Medication,
    by: Membership,
    sig: str,
    quantity: str,
    refills: int,
    dispense_as_written: bool,
    written_on: date | None = None,
) -> Prescription:
    """Record a prescription for printing (never transmitted electronically). Only prescribers write one."""
    medication = Medication.objects.select_related("patient").get(pk=medication.pk)
    _require_clinical_writer(by, medication.patient)
    if not can_prescribe(by):
        allowed = ", ".join(sorted(PRESCRIBER_TITLES))
        raise DomainError(
            f"Only prescribers ({allowed}) can write prescriptions. Your title in this practice is "
            f"'{by.title or 'not set'}'."
        )
    if not medication.is_active:
        raise DomainError("This medication has been stopped: record it again before prescribing it.")
    prescription = Prescription(
        practice_id=medication.practice_id,
        medication=medication,
        patient=medication.patient,
        prescriber=by,
        written_on=written_on or timezone.localdate(),
        sig=(sig or "").strip(),
        quantity=(quantity or "").strip(),
        refills=refills,
        dispense_as_written=bool(dispense_as_written),
    )
    if not prescription.sig:
        raise DomainError("Enter the directions (sig).", field="sig")
    if not prescription.quantity:
        raise DomainError("Enter the quantity to dispense.", field="quantity")
    try:
        prescription.full_clean()
    except ValidationError as exc:
        _raise_validation(exc)
    prescription.save()
    return prescription


# --- Documents -----------------------------------------------------------------------------------


def _read_and_hash(uploaded_file: UploadedFile) -> tuple[bytes, str, int]:
    """The first bytes (for type detection), the SHA-256 and the size of an upload."""
    digest, size, head = hashlib.sha256(), 0, b""
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        if len(head) < 8192:
            head += chunk[: 8192 - len(head)]
        digest.update(chunk)
        size += len(chunk)
    uploaded_file.seek(0)
    return head, digest.hexdigest(), size


def detect_content_type(head: bytes) -> str | None:
    """The allowed content type the bytes really are, or None (HTML, SVG, executables, anything else)."""
    kind = filetype.guess(head)
    if kind is None or kind.mime not in DOCUMENT_TYPES:
        return None
    return kind.mime


@transaction.atomic
def document_upload(
    *,
    patient: Patient,
    by: Membership,
    uploaded_file: UploadedFile,
    title: str,
    category: str,
    signed_by_name: str = "",
    expires_on: date | None = None,
) -> Document:
    """Store a patient document under MEDIA_ROOT with a random name, after checking size and real type."""
    _require_clinical_writer(by, patient)
    limit = settings.TEND_MAX_UPLOAD_BYTES
    if uploaded_file is None:
        raise DomainError("Choose a file to upload.", field="uploaded_file")
    if uploaded_file.size is not None and uploaded_file.size > limit:
        raise DomainError(f"The file is larger than {limit // (1024 * 1024)} MB.", field="uploaded_file")
    head, sha256, size = _read_and_hash(uploaded_file)
    if size == 0:
        raise DomainError("The file is empty.", field="uploaded_file")
    if size > limit:
        raise DomainError(f"The file is larger than {limit // (1024 * 1024)} MB.", field="uploaded_file")
    content_type = detect_content_type(head)
    if content_type is None:
        raise DomainError("Upload a PDF, PNG, JPEG or HEIC file. This file is another type.", field="uploaded_file")
    if category not in Document.Category.values:
        raise DomainError("Choose a category.", field="category")
    if not (title or "").strip():
        raise DomainError("Enter a title.", field="title")
    signed_by_name = " ".join((signed_by_name or "").split())
    if signed_by_name and category not in SIGNABLE_CATEGORIES:
        raise DomainError("Only consents and releases of information carry an e-signature.", field="signed_by_name")
    document = Document(
        practice_id=patient.practice_id,
        patient=patient,
        category=category,
        title=title.strip(),
        content_type=content_type,
        size_bytes=size,
        sha256=sha256,
        original_filename=(uploaded_file.name or "")[-255:],
        uploaded_by=by,
        signed_by_name=signed_by_name,
        signed_at=timezone.now() if signed_by_name else None,
        expires_on=expires_on,
    )
    # A random stored name: nothing of the uploader's file name reaches the file system.
    document.file.save(f"{uuid.uuid4().hex}.{DOCUMENT_TYPES[content_type]}", uploaded_file, save=False)
    stored_name = document.file.name
    try:
        document.full_clean(exclude=["file"])
        document.save()
    except ValidationError as exc:
        document.file.storage.delete(stored_name)
        _raise_validation(exc)
    except Exception:
        document.file.storage.delete(stored_name)
        raise
    return document
