"""Staff intake pages under /p/<slug>/portal/intake/: the review queue (submitted, oldest first), one
submission beside the chart (changed fields highlighted), card photos, accept into the chart or
return with a note; and the setup of packets and consent versions.

Thin views: rules in portal.services_intake, reads in portal.selectors_intake. Clinicians see only
their caseload (clinical.access); another patient's submission is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.models import Coverage, Payer
from clinical.services.records import DOCUMENT_TYPES
from portal import selectors_intake as selectors
from portal import services_intake as services
from portal.forms_intake import (
    DEMOGRAPHIC_LABELS,
    HISTORY_LABELS,
    INSURANCE_LABELS,
    AcceptForm,
    ConsentForm,
    ConsentVersionForm,
    PacketForm,
    ReturnForm,
)
from portal.models import ConsentDocument, IntakeStep, IntakeSubmission, IntakeUpload
from practice.audit import access_record
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

T = "portal/staff/intake/"
K = IntakeStep.Kind


def _submission_or_404(request: HttpRequest, submission_id) -> IntakeSubmission:
    try:
        return selectors.submission_for_review(membership=request.membership, submission_id=submission_id)
    except IntakeSubmission.DoesNotExist as exc:
        raise Http404("No such submission.") from exc


def _domain(exc: DomainError) -> None:
    if exc.code == "not_found":
        raise Http404(exc.message) from exc


@practice_view(Perm.INTAKE_REVIEW)
def intake_queue(request: HttpRequest) -> HttpResponse:
    submissions = list(selectors.review_queue(request.membership)[:200])
    access_record(request=request, action="list", object_type="portal.intakesubmission", object_id="intake-queue")
    return render(request, T + "queue.html", {"submissions": submissions})


def _compare(rows: list[tuple[str, str, Any, Any]]) -> list[dict[str, Any]]:
    out = []
    for name, label, new, old in rows:
        old_text = "" if old in (None, "") else str(old)
        new_text = "" if new in (None, "") else str(new)
        out.append(
            {
                "name": name,
                "label": label,
                "new": new_text,
                "old": old_text,
                "changed": bool(new_text) and new_text.strip().casefold() != old_text.strip().casefold(),
            }
        )
    return out


def _insurance_rows(answers: dict[str, Any], coverage: Coverage | None, payers: dict[str, str]) -> list[dict]:
    if not answers:
        return []
    if answers.get("has_insurance") != "yes":
        return _compare([("has_insurance", "Insurance", "No: self-pay", coverage.payer.name if coverage else "")])
    payer = payers.get(answers.get("payer", ""), "") or f"Other: {answers.get('payer_other', '')}"
    current = {
        "payer": coverage.payer.name if coverage else "",
        "member_id": coverage.member_id if coverage else "",
        "group_number": coverage.group_number if coverage else "",
        "relationship": coverage.get_relationship_display() if coverage else "",
    }
    relationship = dict(Coverage.Relationship.choices).get(answers.get("relationship", ""), "")
    rows = [
        ("payer", INSURANCE_LABELS["payer"], payer, current["payer"]),
        ("member_id", INSURANCE_LABELS["member_id"], answers.get("member_id"), current["member_id"]),
        ("group_number", INSURANCE_LABELS["group_number"], answers.get("group_number"), current["group_number"]),
        ("relationship", INSURANCE_LABELS["relationship"], relationship, current["relationship"]),
    ]
    for name in ("subscriber_first_name", "subscriber_last_name", "subscriber_date_of_birth", "subscriber_sex"):
        if answers.get(name):
            rows.append((name, INSURANCE_LABELS[name], answers[name], getattr(coverage, name, "") if coverage else ""))
    return _compare(rows)


def _render_review(
    request: HttpRequest,
    submission: IntakeSubmission,
    *,
    accept_form: AcceptForm | None = None,
    return_form: ReturnForm | None = None,
    status: int = 200,
) -> HttpResponse:
    patient = submission.patient
    payer_list = list(Payer.objects.order_by("name").only("public_id", "name"))
    payer_names = {str(p.public_id): p.name for p in payer_list}
    coverage = (
        Coverage.objects.select_related("payer")
        .filter(patient=patient, is_active=True, priority=Coverage.Priority.PRIMARY)
        .order_by("-id")
        .first()
    )
    sections = []
    needs_payer = False
    for step in submission.packet.steps.all():
        answers = submission.data.get(str(step.pk)) or {}
        section: dict[str, Any] = {"step": step, "done": step.pk in submission.completed_steps}
        if step.kind == K.DEMOGRAPHICS:
            section["rows"] = _compare(
                [
                    (n, DEMOGRAPHIC_LABELS[n], v, getattr(patient, n, ""))
                    for n, v in answers.items()
                    if n in DEMOGRAPHIC_LABELS
                ]
            )
        elif step.kind == K.INSURANCE:
            section["rows"] = _insurance_rows(answers, coverage, payer_names)
            needs_payer = needs_payer or (answers.get("has_insurance") == "yes" and answers.get("payer") == "other")
        elif step.kind == K.HISTORY:
            section["answers"] = [(HISTORY_LABELS[n], v) for n, v in answers.items() if n in HISTORY_LABELS and v]
        elif step.kind == K.QUESTIONNAIRES:
            section["administrations"] = answers.get("administrations") or {}
        sections.append(section)
    access_record(request=request, action="view", target=submission)
    context = {
        "submission": submission,
        "patient": patient,
        "sections": sections,
        "signatures": list(submission.signatures.all()),
        "uploads": services.current_uploads(submission),
        "is_waiting": submission.status == IntakeSubmission.Status.SUBMITTED,
        "needs_payer": needs_payer,
        "accept_form": accept_form or AcceptForm(payers=payer_list),
        "return_form": return_form or ReturnForm(),
    }
    return render(request, T + "review.html", context, status=status)


@practice_view(Perm.INTAKE_REVIEW)
def intake_review(request: HttpRequest, submission_id) -> HttpResponse:
    return _render_review(request, _submission_or_404(request, submission_id))


@require_POST
@practice_view(Perm.INTAKE_REVIEW)
def intake_accept(request: HttpRequest, submission_id) -> HttpResponse:
    submission = _submission_or_404(request, submission_id)
    payer_list = list(Payer.objects.order_by("name").only("public_id", "name"))
    form = AcceptForm(request.POST, payers=payer_list)
    if not form.is_valid():
        return _render_review(request, submission, accept_form=form, status=400)
    payer = next((p for p in payer_list if str(p.public_id) == form.cleaned_data["payer"]), None)
    try:
        services.intake_accept(submission=submission, by=request.membership, payer=payer)
    except DomainError as exc:
        _domain(exc)
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _render_review(request, _submission_or_404(request, submission_id), accept_form=form, status=400)
    messages.success(request, "Accepted: the answers, coverage and documents are in the chart.")
    return redirect("intake_queue", practice_slug=request.practice.slug)


@require_POST
@practice_view(Perm.INTAKE_REVIEW)
def intake_return(request: HttpRequest, submission_id) -> HttpResponse:
    submission = _submission_or_404(request, submission_id)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        return _render_review(request, submission, return_form=form, status=400)
    try:
        services.intake_return(submission=submission, by=request.membership, note=form.cleaned_data["note"])
    except DomainError as exc:
        _domain(exc)
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _render_review(request, _submission_or_404(request, submission_id), return_form=form, status=400)
    messages.success(request, "Returned to the patient with your note.")
    return redirect("intake_queue", practice_slug=request.practice.slug)


@practice_view(Perm.INTAKE_REVIEW)
def intake_upload_file(request: HttpRequest, upload_id) -> HttpResponse:
    from clinical.access import patients_visible_to

    upload = get_object_or_404(
        IntakeUpload.objects.select_related("submission"),
        public_id=upload_id,
        submission__patient__in=patients_visible_to(request.membership),
    )
    access_record(request=request, action="view", target=upload, patient_id=upload.submission.patient.public_id)
    extension = DOCUMENT_TYPES.get(upload.content_type, "bin")
    # Served with the type detected at upload, never the patient's file name or claimed type.
    response = FileResponse(
        upload.file.open("rb"),
        as_attachment=False,
        filename=f"intake-{upload.public_id}.{extension}",
        content_type=upload.content_type,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Setup -------------------------------------------------------------------------------------


@practice_view(Perm.PORTAL_MANAGE_SETTINGS)
def intake_packets(request: HttpRequest) -> HttpResponse:
    from portal.access import portal_settings_for

    default = portal_settings_for(request.practice).intake_packet_id
    form = PacketForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.packet_create(
                    practice=request.practice,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    steps=form.cleaned_data["steps"],
                    is_default=form.cleaned_data["is_default"],
                    by=request.membership,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Packet created.")
                return redirect("intake_packets", practice_slug=request.practice.slug)
        status = 400
    context = {"packets": list(selectors.packets()), "default_id": default, "form": form}
    return render(request, T + "packets.html", context, status=status)


@practice_view(Perm.PORTAL_MANAGE_SETTINGS)
def intake_consents(request: HttpRequest) -> HttpResponse:
    form = ConsentForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.consent_create(practice=request.practice, by=request.membership, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Consent added.")
                return redirect("intake_consents", practice_slug=request.practice.slug)
        status = 400
    return render(request, T + "consents.html", {"consents": list(selectors.consents()), "form": form}, status=status)


@practice_view(Perm.PORTAL_MANAGE_SETTINGS)
def intake_consent_version(request: HttpRequest, consent_id) -> HttpResponse:
    consent = get_object_or_404(ConsentDocument, public_id=consent_id)
    if not consent.is_current:
        messages.info(request, "Start the new version from the current one.")
        current = ConsentDocument.objects.filter(key=consent.key, is_current=True).first()
        if current is None:
            raise Http404("No current version.")
        return redirect("intake_consent_version", practice_slug=request.practice.slug, consent_id=current.public_id)
    form = ConsentVersionForm(request.POST or None, initial={"title": consent.title, "body": consent.body})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                new = services.consent_new_version(consent=consent, by=request.membership, **form.cleaned_data)
            except PermissionDenied:
                raise
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, f"Version {new.version} is now current. Signed versions are unchanged.")
                return redirect("intake_consents", practice_slug=request.practice.slug)
        status = 400
    return render(request, T + "consent_version.html", {"consent": consent, "form": form}, status=status)
