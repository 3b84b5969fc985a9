"""The printed chart (PDF), prescription PDFs, and the complete per-patient export for a records request.

Psychotherapy notes are never read here: they live in their own table (PsychotherapyNote), which
this module does not import. Draft notes are not part of the legal record and are left out too.
Views write the access event ("print" / "export"); these functions only build the bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from clinical import access
from clinical.models import Document, Patient, Prescription, ProgressNote, TreatmentPlan
from clinical.pdf import render_pdf
from clinical.selectors import records as selectors
from practice.models import Membership
from practice.permissions import Perm

CHART_SECTIONS: dict[str, str] = {
    "demographics": "Demographics",
    "diagnoses": "Diagnoses",
    "notes": "Clinical notes",
    "plans": "Treatment plans",
    "medications": "Medications",
    "documents_list": "Documents on file",
}
EXPORT_FORMAT_VERSION = 1


def _require_exporter(by: Membership, patient: Patient) -> None:
    if (
        by.practice_id != patient.practice_id
        or not by.has_perm(Perm.CHART_EXPORT)
        or not access.can_view_clinical(by, patient)
    ):
        raise PermissionDenied


@dataclass
class NoteSection:
    label: str
    text: str


def note_sections(note: ProgressNote) -> list[NoteSection]:
    """The note's content in its template's order; keys the template no longer has come last."""
    content = note.content or {}
    sections = [
        NoteSection(s["label"], content.get(s["key"], "")) for s in (note.template.sections or []) if s.get("key")
    ]
    known = {s.get("key") for s in (note.template.sections or [])}
    sections += [NoteSection(k.replace("_", " ").capitalize(), v) for k, v in content.items() if k not in known]
    return [s for s in sections if str(s.text).strip()]


def _letterhead(practice_id: int) -> dict[str, Any]:
    return {"location": selectors.letterhead_location(practice_id)}


def chart_pdf_render(
    *,
    patient: Patient,
    by: Membership,
    sections: set[str],
    start: date | None = None,
    end: date | None = None,
) -> bytes:
    """The chart as PDF: letterhead, patient header, and the chosen sections (notes in [start, end])."""
    _require_exporter(by, patient)
    unknown = set(sections) - set(CHART_SECTIONS)
    if unknown:
        raise ValueError(f"unknown chart sections: {sorted(unknown)}")
    patient = Patient.objects.select_related("practice", "primary_clinician__user").get(pk=patient.pk)
    context: dict[str, Any] = {
        "patient": patient,
        "practice": patient.practice,
        "sections": [(key, label) for key, label in CHART_SECTIONS.items() if key in sections],
        "selected": set(sections),
        "start": start,
        "end": end,
        "printed_at": timezone.now(),
        "printed_by": by,
        **_letterhead(patient.practice_id),
    }
    if "diagnoses" in sections:
        context["diagnoses"] = list(selectors.diagnosis_list(patient))
    if "notes" in sections:
        notes = list(selectors.chart_notes(patient, start=start, end=end))
        context["notes"] = [(note, note_sections(note)) for note in notes]
    if "plans" in sections:
        plans = list(selectors.plans_with_trees(patient).exclude(status=TreatmentPlan.Status.DRAFT))
        context["current_plan"] = next((p for p in plans if p.status == TreatmentPlan.Status.ACTIVE), None)
        context["plan_versions"] = plans
    if "medications" in sections:
        context["medications"] = list(selectors.medication_list(patient))
    if "documents_list" in sections:
        context["documents"] = list(selectors.document_list(patient))
    return render_pdf("clinical/pdf/chart.html", context)


def prescription_pdf_render(*, prescription: Prescription, by: Membership) -> bytes:
    """A printable prescription on the practice's letterhead (not transmitted electronically)."""
    prescription = Prescription.objects.select_related("practice", "patient", "medication", "prescriber__user").get(
        pk=prescription.pk
    )
    if by.practice_id != prescription.practice_id or not access.can_view_clinical(by, prescription.patient):
        raise PermissionDenied
    return render_pdf(
        "clinical/pdf/prescription.html",
        {
            "rx": prescription,
            "patient": prescription.patient,
            "practice": prescription.practice,
            "printed_at": timezone.now(),
            **_letterhead(prescription.practice_id),
        },
    )


# --- Export --------------------------------------------------------------------------------------


def _member(m: Membership | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {"id": str(m.public_id), "name": m.user.display_name, "title": m.title}


def _document_path(doc: Document) -> str:
    # The ZIP member name is built from ids only: an uploader's file name never becomes a path.
    extension = doc.file.name.rsplit(".", 1)[-1] if "." in doc.file.name else "bin"
    return f"documents/{doc.public_id}.{extension}"


def patient_record(patient: Patient) -> dict[str, Any]:
    """The patient's record as JSON-ready data (no psychotherapy notes, no drafts)."""
    p = patient
    demographics = {
        "id": str(p.public_id),
        "mrn": p.mrn,
        "legal_first_name": p.legal_first_name,
        "legal_middle_name": p.legal_middle_name,
        "legal_last_name": p.legal_last_name,
        "preferred_name": p.preferred_name,
        "pronouns": p.pronouns,
        "date_of_birth": p.date_of_birth,
        "sex_assigned_at_birth": p.sex_assigned_at_birth,
        "gender_identity": p.gender_identity,
        "address": {
            "line1": p.address_line1,
            "line2": p.address_line2,
            "city": p.city,
            "state": p.state,
            "postal_code": p.postal_code,
        },
        "phone": p.phone,
        "email": p.email,
        "emergency_contact": {
            "name": p.emergency_contact_name,
            "phone": p.emergency_contact_phone,
            "relationship": p.emergency_contact_relationship,
        },
        "guardian": {
            "name": p.guardian_name,
            "phone": p.guardian_phone,
            "email": p.guardian_email,
            "relationship": p.guardian_relationship,
        },
        "status": p.status,
        "primary_clinician": _member(p.primary_clinician),
    }
    notes = [
        {
            "id": str(n.public_id),
            "kind": n.kind,
            "template": n.template.name,
            "status": n.status,
            "session_on": n.session_on,
            "start_time": n.start_time,
            "end_time": n.end_time,
            "duration_minutes": n.duration_minutes,
            "service_code": n.service_code,
            "modality": n.modality,
            "place_of_service": n.place_of_service,
            "participants": n.participants,
            "content": [{"section": s.label, "text": s.text} for s in note_sections(n)],
            "risk_assessment": {
                "ideation": n.risk_ideation,
                "plan": n.risk_plan,
                "intent": n.risk_intent,
                "access_to_means": n.risk_means,
                "protective_factors": n.risk_protective_factors,
                "risk_level": n.risk_level,
            },
            "interventions": n.interventions,
            "plan": n.plan,
            "author": _member(n.author),
            "signed_at": n.signed_at,
            "cosigner": _member(n.cosigner),
            "cosigned_at": n.cosigned_at,
            "content_sha256": n.content_hash,
            "addenda": [
                {"author": _member(a.author), "created_at": a.created_at, "reason": a.reason, "text": a.text}
                for a in n.addenda.all()
            ],
        }
        for n in selectors.chart_notes(patient)
    ]
    plans = [
        {
            "id": str(plan.public_id),
            "version": plan.version,
            "status": plan.status,
            "effective_on": plan.effective_on,
            "review_on": plan.review_on,
            "strengths": plan.strengths,
            "barriers": plan.barriers,
            "discharge_criteria": plan.discharge_criteria,
            "author": _member(plan.author),
            "clinician_signed_at": plan.clinician_signed_at,
            "patient_signature_name": plan.patient_signature_name,
            "patient_signed_at": plan.patient_signed_at,
            "problems": [
                {
                    "description": pr.description,
                    "goals": [
                        {
                            "description": g.description,
                            "interventions": g.interventions,
                            "objectives": [
                                {"description": o.description, "target_on": o.target_on, "status": o.status}
                                for o in g.objectives.all()
                            ],
                        }
                        for g in pr.goals.all()
                    ],
                }
                for pr in plan.problems.all()
            ],
        }
        for plan in selectors.plans_with_trees(patient)
    ]
    medications = list(selectors.medication_list(patient))
    return {
        "format": "tend.patient-export",
        "format_version": EXPORT_FORMAT_VERSION,
        "practice": {"id": str(patient.practice.public_id), "name": patient.practice.name},
        "generated_at": timezone.now(),
        "patient": demographics,
        "consents": [
            {
                "channel": c.channel,
                "is_granted": c.is_granted,
                "recorded_at": c.recorded_at,
                "source": c.source,
                "note": c.note,
            }
            for c in selectors.consent_list(patient)
        ],
        "diagnoses": [
            {
                "code": d.code.code,
                "description": d.code.description,
                "onset_on": d.onset_on,
                "resolved_on": d.resolved_on,
                "is_primary": d.is_primary,
                "rank": d.rank,
                "notes": d.notes,
            }
            for d in selectors.diagnosis_list(patient)
        ],
        "notes": notes,
        "treatment_plans": plans,
        "medications": [
            {
                "id": str(m.public_id),
                "name": m.name,
                "dose": m.dose,
                "frequency": m.frequency,
                "route": m.route,
                "prescriber_name": m.prescriber_name,
                "prescribed_by": _member(m.prescribed_by),
                "started_on": m.started_on,
                "stopped_on": m.stopped_on,
                "notes": m.notes,
            }
            for m in medications
        ],
        "prescriptions": [
            {
                "id": str(rx.public_id),
                "medication_id": str(m.public_id),
                "medication": m.name,
                "dose": m.dose,
                "written_on": rx.written_on,
                "sig": rx.sig,
                "quantity": rx.quantity,
                "refills": rx.refills,
                "dispense_as_written": rx.dispense_as_written,
                "prescriber": _member(rx.prescriber),
            }
            for m in medications
            for rx in m.prescriptions.all()
        ],
        "documents": [
            {
                "id": str(doc.public_id),
                "title": doc.title,
                "category": doc.category,
                "content_type": doc.content_type,
                "size_bytes": doc.size_bytes,
                "sha256": doc.sha256,
                "original_filename": doc.original_filename,
                "uploaded_at": doc.created_at,
                "uploaded_by": _member(doc.uploaded_by),
                "signed_by_name": doc.signed_by_name,
                "signed_at": doc.signed_at,
                "expires_on": doc.expires_on,
                "file": _document_path(doc),
            }
            for doc in selectors.document_list(patient)
        ],
    }


def patient_export_build(*, patient: Patient, by: Membership) -> bytes:
    """A ZIP for a records request: patient.json, chart.pdf (every section) and the document files."""
    _require_exporter(by, patient)
    patient = Patient.objects.select_related("practice", "primary_clinician__user").get(pk=patient.pk)
    record = patient_record(patient)
    chart = chart_pdf_render(patient=patient, by=by, sections=set(CHART_SECTIONS))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("patient.json", json.dumps(record, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False))
        zf.writestr("chart.pdf", chart)
        for doc in selectors.document_list(patient):
            with doc.file.open("rb") as fh:
                zf.writestr(_document_path(doc), fh.read())
    return buffer.getvalue()
