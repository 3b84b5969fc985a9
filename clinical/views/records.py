"""Treatment plans, medications and prescriptions, documents, the chart PDF and the records export.

Thin views: parse the form, call one service or selector, render. Objects are looked up by public_id
through the scoped managers (another practice's object is a 404) and then checked against the
caseload (outside it: break-the-glass where allowed, else 404). Every read of clinical content
writes an access event.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinical import access
from clinical.forms_records import (
    ChartPdfForm,
    DocumentUploadForm,
    MedicationForm,
    PlanHeaderForm,
    PlanTreeForm,
    PrescriptionForm,
)
from clinical.models import Document, Medication, Patient, Prescription, TreatmentObjective, TreatmentPlan
from clinical.selectors import records as selectors
from clinical.services import exports, plans, records
from clinical.services.exports import CHART_SECTIONS
from clinical.views.base import patient_view
from practice.audit import access_record
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

# Headers of every file Tend hands out: a download, never rendered or sniffed as a page.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private, no-store",
}
PLAN_REVIEW_DAYS = 90  # the default review date of a new plan


def _post(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _show_error(form: Any, exc: DomainError | ValidationError) -> None:
    if isinstance(exc, DomainError):
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    else:
        form.add_error(None, exc.messages)


def chart_url(request: HttpRequest, patient: Patient) -> str | None:
    """The patient's chart, when the patients area has its page (links are defensive until then)."""
    try:
        return reverse(
            "patient_chart", kwargs={"practice_slug": request.practice.slug, "patient_id": patient.public_id}
        )
    except NoReverseMatch:
        return None


def _back_to_chart(request: HttpRequest, patient: Patient, fallback: str) -> HttpResponse:
    return redirect(chart_url(request, patient) or fallback)


def clinical_object_view(
    perm: Perm, url_kwarg: str, queryset: Callable[[], QuerySet]
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A page about one object of a patient's record: permission, scoped lookup, caseload check.

    Wraps ``view(request, obj, **kwargs)``. Outside the caseload: break-the-glass where the member
    may, else 404 (the object's existence is not revealed).
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @practice_view(perm)
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            obj = get_object_or_404(queryset(), public_id=kwargs.pop(url_kwarg))
            patient = _patient_of(obj)
            if not access.can_view_clinical(request.membership, patient):
                if access.can_break_glass(request.membership, patient):
                    try:
                        return redirect(
                            "patient_break_glass", practice_slug=request.practice.slug, patient_id=patient.public_id
                        )
                    except NoReverseMatch:
                        pass
                raise Http404("Not found.")
            return view(request, obj, *args, **kwargs)

        return wrapper

    return decorate


def _patient_of(obj: Model) -> Patient:
    return obj.patient  # type: ignore[attr-defined]


def _plans_qs() -> QuerySet[TreatmentPlan]:
    return TreatmentPlan.objects.select_related("patient__primary_clinician__user", "author__user")


# --- Treatment plans -----------------------------------------------------------------------------


def _plan_form_page(
    request: HttpRequest, patient: Patient, *, plan: TreatmentPlan | None, header: PlanHeaderForm, tree: PlanTreeForm
) -> HttpResponse:
    return render(
        request,
        "clinical/records/plan_form.html",
        {
            "patient": patient,
            "plan": plan,
            "form": header,
            "tree": tree,
            "chart_url": chart_url(request, patient),
            "status_choices": TreatmentObjective.Status.choices,
        },
    )


def _plan_form_submit(
    request: HttpRequest, patient: Patient, plan: TreatmentPlan | None
) -> tuple[PlanHeaderForm, PlanTreeForm, TreatmentPlan | None]:
    """Handle a POST of the plan form: "add another" re-renders; "save" calls the service."""
    tree = PlanTreeForm(request.POST)
    add = request.POST.get("add")
    if add:
        # An "add another" post-back is not a save: keep what was typed, show no errors yet.
        tree.add(add)
        header = PlanHeaderForm(initial={name: request.POST.get(name, "") for name in PlanHeaderForm.base_fields})
        return header, tree, None
    header = PlanHeaderForm(request.POST)
    if header.is_valid() & tree.is_valid():
        fields = {**header.cleaned_data, "problems": tree.cleaned_data}
        try:
            if plan is None:
                saved = plans.plan_create(patient=patient, by=request.membership, **fields)
            else:
                saved = plans.plan_update_draft(plan=plan, by=request.membership, **fields)
        except DomainError as exc:
            if exc.field == "problems":
                tree.non_field_errors.append(exc.message)
            else:
                _show_error(header, exc)
        else:
            return header, tree, saved
    return header, tree, None


@patient_view(Perm.NOTE_WRITE, clinical=True)
def plan_create_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    if request.method == "POST":
        header, tree, saved = _plan_form_submit(request, patient, None)
        if saved is not None:
            messages.success(request, f"Draft treatment plan (version {saved.version}) saved.")
            return redirect("plan_detail", practice_slug=request.practice.slug, plan_id=saved.public_id)
    else:
        draft = TreatmentPlan.objects.filter(patient=patient, status=TreatmentPlan.Status.DRAFT).first()
        if draft is not None:
            messages.info(request, f"Version {draft.version} is already a draft: continue it here.")
            return redirect("plan_edit", practice_slug=request.practice.slug, plan_id=draft.public_id)
        today = timezone.localdate()
        header = PlanHeaderForm(initial={"effective_on": today, "review_on": today + timedelta(days=PLAN_REVIEW_DAYS)})
        tree = PlanTreeForm()
    return _plan_form_page(request, patient, plan=None, header=header, tree=tree)


@clinical_object_view(Perm.NOTE_WRITE, "plan_id", _plans_qs)
def plan_edit_view(request: HttpRequest, plan: TreatmentPlan) -> HttpResponse:
    if plan.status != TreatmentPlan.Status.DRAFT:
        messages.error(request, "Only a draft plan can be edited. Revise the plan to change it.")
        return redirect("plan_detail", practice_slug=request.practice.slug, plan_id=plan.public_id)
    if request.method == "POST":
        header, tree, saved = _plan_form_submit(request, plan.patient, plan)
        if saved is not None:
            messages.success(request, "Draft treatment plan saved.")
            return redirect("plan_detail", practice_slug=request.practice.slug, plan_id=saved.public_id)
    else:
        header = PlanHeaderForm(
            initial={
                "effective_on": plan.effective_on,
                "review_on": plan.review_on,
                "strengths": plan.strengths,
                "barriers": plan.barriers,
                "discharge_criteria": plan.discharge_criteria,
            }
        )
        tree = PlanTreeForm(initial=plans.plan_tree(plan))
    access_record(request=request, action="view", target=plan)
    return _plan_form_page(request, plan.patient, plan=plan, header=header, tree=tree)


@clinical_object_view(Perm.CHART_VIEW_CLINICAL, "plan_id", _plans_qs)
def plan_detail_view(request: HttpRequest, plan: TreatmentPlan) -> HttpResponse:
    plan = selectors.plan_with_tree(TreatmentPlan.objects.filter(pk=plan.pk)).get()
    access_record(request=request, action="view", target=plan)
    versions = list(selectors.plan_versions(plan.patient))
    return render(
        request,
        "clinical/records/plan_detail.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "versions": versions,
            "has_draft": any(v.status == TreatmentPlan.Status.DRAFT for v in versions),
            "can_write": request.membership.has_perm(Perm.NOTE_WRITE),
            "status_choices": TreatmentObjective.Status.choices,
            "chart_url": chart_url(request, plan.patient),
        },
    )


def _plan_action(request: HttpRequest, plan: TreatmentPlan, action: Callable[[], Any], success: str) -> HttpResponse:
    try:
        result = action()
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("plan_detail", practice_slug=request.practice.slug, plan_id=plan.public_id)
    messages.success(request, success)
    target = result if isinstance(result, TreatmentPlan) else plan
    return redirect("plan_detail", practice_slug=request.practice.slug, plan_id=target.public_id)


@require_POST
@clinical_object_view(Perm.NOTE_WRITE, "plan_id", _plans_qs)
def plan_sign_view(request: HttpRequest, plan: TreatmentPlan) -> HttpResponse:
    return _plan_action(
        request, plan, lambda: plans.plan_sign(plan=plan, by=request.membership), "Plan signed: it is now active."
    )


@require_POST
@clinical_object_view(Perm.NOTE_WRITE, "plan_id", _plans_qs)
def plan_revise_view(request: HttpRequest, plan: TreatmentPlan) -> HttpResponse:
    try:
        draft = plans.plan_revise(plan=plan, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("plan_detail", practice_slug=request.practice.slug, plan_id=plan.public_id)
    messages.success(request, f"Version {draft.version} started as a draft; version {plan.version} stays as it was.")
    return redirect("plan_edit", practice_slug=request.practice.slug, plan_id=draft.public_id)


@require_POST
@clinical_object_view(Perm.NOTE_WRITE, "plan_id", _plans_qs)
def plan_patient_sign_view(request: HttpRequest, plan: TreatmentPlan) -> HttpResponse:
    typed_name = request.POST.get("typed_name", "")
    return _plan_action(
        request,
        plan,
        lambda: plans.plan_patient_sign(plan=plan, by=request.membership, typed_name=typed_name),
        "Patient signature recorded.",
    )


@require_POST
@clinical_object_view(Perm.NOTE_WRITE, "plan_id", _plans_qs)
def plan_objective_status_view(request: HttpRequest, plan: TreatmentPlan) -> HttpResponse:
    objective = TreatmentObjective.objects.filter(
        public_id=_uuid_or_none(request.POST.get("objective")), goal__problem__plan=plan
    ).first()
    if objective is None:
        messages.error(request, "Choose an objective of this plan.")
        return redirect("plan_detail", practice_slug=request.practice.slug, plan_id=plan.public_id)
    status = request.POST.get("status", "")
    return _plan_action(
        request,
        plan,
        lambda: plans.objective_set_status(objective=objective, by=request.membership, status=status),
        "Objective status updated.",
    )


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


# --- Medications and prescriptions ---------------------------------------------------------------


def _medications_qs() -> QuerySet[Medication]:
    return Medication.objects.select_related("patient__primary_clinician__user", "prescribed_by__user")


def _medication_page(request: HttpRequest, patient: Patient, form: MedicationForm, medication: Medication | None):
    prescriptions = []
    if medication is not None:
        prescriptions = list(
            Prescription.objects.filter(medication=medication)
            .select_related("prescriber__user")
            .order_by("-written_on", "-id")
        )
    return render(
        request,
        "clinical/records/medication_form.html",
        {
            "patient": patient,
            "medication": medication,
            "form": form,
            "prescriptions": prescriptions,
            "can_prescribe": records.can_prescribe(request.membership),
            "chart_url": chart_url(request, patient),
        },
    )


def _medication_submit(request: HttpRequest, patient: Patient, form: MedicationForm, medication: Medication | None):
    if not form.is_valid():
        return None
    try:
        return records.medication_save(
            patient=patient, by=request.membership, medication=medication, **form.cleaned_data
        )
    except DomainError as exc:
        _show_error(form, exc)
        return None


@patient_view(Perm.NOTE_WRITE, clinical=True)
def medication_create_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = MedicationForm(_post(request), practice_id=request.practice.pk)
    if request.method == "POST" and (saved := _medication_submit(request, patient, form, None)) is not None:
        messages.success(request, f"{saved.name} added to the medication list.")
        return _back_to_chart(
            request,
            patient,
            reverse(
                "medication_edit", kwargs={"practice_slug": request.practice.slug, "medication_id": saved.public_id}
            ),
        )
    return _medication_page(request, patient, form, None)


@clinical_object_view(Perm.NOTE_WRITE, "medication_id", _medications_qs)
def medication_edit_view(request: HttpRequest, medication: Medication) -> HttpResponse:
    form = MedicationForm(_post(request), instance=medication, practice_id=request.practice.pk)
    if request.method == "POST":
        if (saved := _medication_submit(request, medication.patient, form, medication)) is not None:
            messages.success(request, f"{saved.name} saved.")
            return redirect("medication_edit", practice_slug=request.practice.slug, medication_id=saved.public_id)
    else:
        access_record(request=request, action="view", target=medication)
    return _medication_page(request, medication.patient, form, medication)


@clinical_object_view(Perm.NOTE_WRITE, "medication_id", _medications_qs)
def prescription_create_view(request: HttpRequest, medication: Medication) -> HttpResponse:
    form = PrescriptionForm(_post(request))
    if request.method == "POST" and form.is_valid():
        try:
            records.prescription_create(medication=medication, by=request.membership, **form.cleaned_data)
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Prescription recorded. Print it and sign it by hand.")
            return redirect("medication_edit", practice_slug=request.practice.slug, medication_id=medication.public_id)
    return render(
        request,
        "clinical/records/prescription_form.html",
        {
            "patient": medication.patient,
            "medication": medication,
            "form": form,
            "can_prescribe": records.can_prescribe(request.membership),
            "prescriber_titles": sorted(records.PRESCRIBER_TITLES),
            "chart_url": chart_url(request, medication.patient),
        },
    )


def _attachment(content: bytes | Any, *, filename: str, content_type: str) -> FileResponse:
    response = FileResponse(content, as_attachment=True, filename=filename, content_type=content_type)
    for header, value in DOWNLOAD_HEADERS.items():
        response[header] = value
    return response


def _pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    return _attachment(io.BytesIO(pdf), filename=filename, content_type="application/pdf")


@clinical_object_view(
    Perm.CHART_VIEW_CLINICAL, "prescription_id", lambda: Prescription.objects.select_related("patient", "medication")
)
def prescription_pdf_view(request: HttpRequest, prescription: Prescription) -> HttpResponse:
    pdf = exports.prescription_pdf_render(prescription=prescription, by=request.membership)
    access_record(request=request, action="print", target=prescription)
    return _pdf_response(pdf, f"prescription-{prescription.public_id}.pdf")


# --- Documents -----------------------------------------------------------------------------------


@patient_view(Perm.NOTE_WRITE, clinical=True)
def document_upload_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = DocumentUploadForm(_post(request), request.FILES if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            doc = records.document_upload(patient=patient, by=request.membership, **form.cleaned_data)
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"“{doc.title}” uploaded.")
            return redirect("document_upload", practice_slug=request.practice.slug, patient_id=patient.public_id)
    documents = list(selectors.document_list(patient))
    access_record(request=request, action="list", target=patient, object_type="clinical.document")
    return render(
        request,
        "clinical/records/document_upload.html",
        {
            "patient": patient,
            "form": form,
            "documents": documents,
            "signable": sorted(records.SIGNABLE_CATEGORIES),
            "chart_url": chart_url(request, patient),
        },
    )


@clinical_object_view(Perm.CHART_VIEW_CLINICAL, "document_id", lambda: Document.objects.select_related("patient"))
def document_download_view(request: HttpRequest, document: Document) -> HttpResponse:
    access_record(request=request, action="view", target=document)
    extension = records.DOCUMENT_TYPES.get(document.content_type, "bin")
    # Served as a download with the type detected at upload, never the uploader's name or type.
    return _attachment(
        document.file.open("rb"),
        filename=f"document-{document.public_id}.{extension}",
        content_type=document.content_type,
    )


# --- Chart PDF and export ------------------------------------------------------------------------


@patient_view(Perm.CHART_EXPORT, clinical=True)
def chart_pdf_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    if not request.GET:
        form = ChartPdfForm(initial={"sections": list(CHART_SECTIONS)})
    else:
        form = ChartPdfForm(request.GET)
        if form.is_valid():
            start: date | None = form.cleaned_data["start"]
            end: date | None = form.cleaned_data["end"]
            pdf = exports.chart_pdf_render(
                patient=patient,
                by=request.membership,
                sections=set(form.cleaned_data["sections"]),
                start=start,
                end=end,
            )
            access_record(request=request, action="print", target=patient)
            return _pdf_response(pdf, f"chart-{patient.mrn}-{timezone.localdate():%Y%m%d}.pdf")
    return render(
        request,
        "clinical/records/chart_pdf_form.html",
        {"patient": patient, "form": form, "chart_url": chart_url(request, patient)},
    )


@patient_view(Perm.CHART_EXPORT, clinical=True)
def patient_export_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    if request.method == "POST":
        archive = exports.patient_export_build(patient=patient, by=request.membership)
        access_record(request=request, action="export", target=patient, reason=request.POST.get("reason", "")[:200])
        return _attachment(
            io.BytesIO(archive),
            filename=f"records-{patient.mrn}-{timezone.localdate():%Y%m%d}.zip",
            content_type="application/zip",
        )
    return render(
        request, "clinical/records/patient_export.html", {"patient": patient, "chart_url": chart_url(request, patient)}
    )
