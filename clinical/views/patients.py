"""Patient pages: list and search, create, demographics, consents, the chart, diagnoses,
break-the-glass and sharing. Thin: parse the form, call one service or selector, render.

Every patient page goes through ``patient_view`` (scoped lookup + caseload rule); reads of the
chart and searches write an access event.
"""

from __future__ import annotations

from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinical import access
from clinical.forms_patients import (
    BreakGlassForm,
    ConsentForm,
    DiagnosisForm,
    PatientCreateForm,
    PatientForm,
    ShareForm,
)
from clinical.models import Diagnosis, EmergencyAccess, Patient
from clinical.selectors import patients as selectors
from clinical.services import patients as services
from clinical.views.base import patient_view
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import AccessEvent
from practice.permissions import Perm
from practice.views.base import practice_view

T = "clinical/patients/"


def _post_data(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _show_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def _chart(request: HttpRequest, patient: Patient, anchor: str = "") -> HttpResponse:
    response = redirect("patient_chart", practice_slug=request.practice.slug, patient_id=patient.public_id)
    if anchor:
        response["Location"] += f"#{anchor}"
    return response


# --- List and search -------------------------------------------------------------------------


@practice_view(Perm.PATIENT_VIEW_DEMOGRAPHICS)
def patient_list_view(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    membership = request.membership
    paginator = Paginator(selectors.patient_search(membership=membership, query=query), selectors.SEARCH_PAGE_SIZE)
    page_obj = paginator.get_page(request.GET.get("page"))
    outside = selectors.patient_search_outside_caseload(membership=membership, query=query) if query else []
    access_record(
        request=request,
        action=AccessEvent.Action.SEARCH if query else AccessEvent.Action.LIST,
        object_type="clinical.patient",
    )
    context = {
        "query": query,
        "page_obj": page_obj,
        "outside": outside,
        "querystring": urlencode({"q": query}) if query else "",
        "can_create": membership.has_perm(Perm.PATIENT_EDIT_DEMOGRAPHICS),
        "sees_all": membership.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS),
    }
    template = T + ("_results.html" if _is_htmx(request) else "list.html")
    return render(request, template, context)


# --- Create and edit -------------------------------------------------------------------------


@practice_view(Perm.PATIENT_EDIT_DEMOGRAPHICS)
def patient_create_view(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    clinicians = selectors.primary_clinician_choices()
    initial = {"primary_clinician": membership} if membership.role in services.PRIMARY_CLINICIAN_ROLES else {}
    form = PatientCreateForm(_post_data(request), clinicians=clinicians, initial=initial)
    duplicates: list[Patient] = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        allow_duplicate = data.pop("create_anyway", False)
        try:
            patient = services.patient_create(by=membership, allow_duplicate=allow_duplicate, **data)
        except services.DuplicatePatient as exc:
            duplicates = exc.matches
            form.add_error(None, exc.message + " Check the list below before creating another record.")
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Patient {patient.display_name} created ({patient.mrn}).")
            if access.can_view_demographics(membership, patient):
                return _chart(request, patient)
            return redirect("patient_list", practice_slug=request.practice.slug)
    visible_ids = set()
    if duplicates:
        visible_ids = set(
            access.patients_visible_to(membership)
            .filter(pk__in=[d.pk for d in duplicates])
            .values_list("pk", flat=True)
        )
    return render(
        request,
        T + "form.html",
        {
            "form": form,
            "duplicates": [(d, d.pk in visible_ids) for d in duplicates],
            "show_create_anyway": bool(duplicates) or bool(form.data.get("create_anyway")),
            "is_create": True,
        },
    )


@patient_view(Perm.PATIENT_EDIT_DEMOGRAPHICS)
def patient_edit_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = PatientForm(_post_data(request), instance=patient, clinicians=selectors.primary_clinician_choices())
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(patient=patient, by=request.membership, **form.cleaned_data)
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Demographics saved.")
            if access.can_view_demographics(request.membership, patient):
                return _chart(request, patient)
            return redirect("patient_list", practice_slug=request.practice.slug)
    if request.method == "GET":
        access_record(request=request, action=AccessEvent.Action.VIEW, target=patient)
    return render(request, T + "form.html", {"form": form, "patient": patient, "is_create": False})


@require_POST
@patient_view(Perm.PATIENT_EDIT_DEMOGRAPHICS)
def patient_consent_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = ConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a channel and whether consent is granted or withdrawn.")
        return _chart(request, patient, "consents")
    data = form.cleaned_data
    try:
        consent = services.consent_record(
            patient=patient,
            by=request.membership,
            channel=data["channel"],
            is_granted=data["is_granted"],
            note=data["note"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        verb = "granted" if consent.is_granted else "withdrawn"
        messages.success(request, f"{consent.get_channel_display()}: consent {verb}.")
    return _chart(request, patient, "consents")


# --- Chart -----------------------------------------------------------------------------------


@patient_view(Perm.PATIENT_VIEW_DEMOGRAPHICS)
def patient_chart_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    chart = selectors.chart_get(patient=patient, membership=request.membership)
    access_record(request=request, action=AccessEvent.Action.VIEW, target=patient)
    membership = request.membership
    return render(
        request,
        T + "chart.html",
        {
            "patient": patient,
            "chart": chart,
            "can_edit": membership.has_perm(Perm.PATIENT_EDIT_DEMOGRAPHICS),
            "can_write": chart.can_view_clinical and membership.has_perm(Perm.NOTE_WRITE),
            "today": timezone.localdate(),
        },
    )


# --- Diagnoses -------------------------------------------------------------------------------


@patient_view(Perm.NOTE_WRITE, clinical=True)
def diagnosis_add_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = DiagnosisForm(_post_data(request), initial={"code": request.GET.get("code", "")})
    if request.method == "POST" and form.is_valid():
        try:
            services.diagnosis_add(patient=patient, by=request.membership, **form.cleaned_data)
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Diagnosis {form.cleaned_data['code'].upper()} added.")
            return _chart(request, patient, "diagnoses")
    query = request.GET.get("q", "").strip()[:60]
    codes = list(selectors.diagnosis_code_search(query)) if query else []
    return render(
        request,
        T + "diagnosis_form.html",
        {"patient": patient, "form": form, "query": query, "codes": codes, "patient_id": patient.public_id},
    )


def _diagnosis(patient: Patient, diagnosis_id: UUID) -> Diagnosis:
    return get_object_or_404(Diagnosis.objects.select_related("code"), public_id=diagnosis_id, patient=patient)


@require_POST
@patient_view(Perm.NOTE_WRITE, clinical=True)
def diagnosis_resolve_view(request: HttpRequest, patient: Patient, diagnosis_id: UUID) -> HttpResponse:
    diagnosis = _diagnosis(patient, diagnosis_id)
    try:
        services.diagnosis_resolve(diagnosis=diagnosis, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{diagnosis.code.code} marked resolved.")
    return _chart(request, patient, "diagnoses")


@require_POST
@patient_view(Perm.NOTE_WRITE, clinical=True)
def diagnosis_make_primary_view(request: HttpRequest, patient: Patient, diagnosis_id: UUID) -> HttpResponse:
    diagnosis = _diagnosis(patient, diagnosis_id)
    try:
        services.diagnosis_make_primary(diagnosis=diagnosis, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{diagnosis.code.code} is now the primary diagnosis.")
    return _chart(request, patient, "diagnoses")


@practice_view(Perm.CHART_VIEW_CLINICAL)
def diagnosis_code_search_view(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:60]
    codes = list(selectors.diagnosis_code_search(query)) if query else []
    try:
        patient_id = UUID(request.GET.get("patient", ""))
    except ValueError:
        patient_id = None
    return render(request, T + "_code_results.html", {"codes": codes, "query": query, "patient_id": patient_id})


# --- Break-the-glass -------------------------------------------------------------------------


@practice_view(Perm.CHART_BREAK_GLASS)
def patient_break_glass_view(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    patient = get_object_or_404(Patient.objects, public_id=patient_id)
    membership = request.membership
    if access.can_view_clinical(membership, patient):
        return _chart(request, patient)
    form = BreakGlassForm(_post_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.emergency_access_open(
                patient=patient, by=membership, reason=form.cleaned_data["reason"], request=request
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.warning(
                request,
                f"Emergency access open for {access.BREAK_GLASS_HOURS} hours. Your administrators have been told.",
            )
            return _chart(request, patient)
    # The page names the patient only as far as the member may already see it.
    shows_name = access.can_view_demographics(membership, patient)
    return render(
        request,
        T + "break_glass.html",
        {"patient": patient, "form": form, "shows_name": shows_name, "hours": access.BREAK_GLASS_HOURS},
    )


@practice_view(Perm.AUDIT_VIEW)
def break_glass_log_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        grant = get_object_or_404(EmergencyAccess.objects, public_id=_uuid_or_404(request.POST.get("access")))
        services.emergency_access_review(emergency_access=grant, by=request.membership)
        messages.success(request, "Marked as reviewed.")
        page = request.POST.get("page", "")
        url = request.path + (f"?page={page}" if page.isdigit() else "")
        return redirect(url)
    rows = selectors.break_glass_log()
    show = request.GET.get("show", "")
    if show == "unreviewed":
        rows = rows.filter(reviewed_at__isnull=True)
    page_obj = Paginator(rows, 50).get_page(request.GET.get("page"))
    access_record(request=request, action=AccessEvent.Action.LIST, object_type="clinical.emergencyaccess")
    return render(
        request,
        T + "break_glass_log.html",
        {"page_obj": page_obj, "show": show, "querystring": urlencode({"show": show}) if show else ""},
    )


def _uuid_or_404(value: str | None) -> UUID:
    try:
        return UUID(str(value))
    except ValueError as exc:
        raise Http404("No such access.") from exc


# --- Sharing ---------------------------------------------------------------------------------


@patient_view(Perm.PATIENT_EDIT_DEMOGRAPHICS)
def patient_share_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    membership = request.membership
    candidates = selectors.share_candidates(patient=patient, exclude=membership)
    form = ShareForm(_post_data(request), candidates=candidates)
    if request.method == "POST" and form.is_valid():
        to = form.cleaned_data["to_membership"]
        try:
            services.patient_share(patient=patient, by=membership, to_membership=to)
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"{patient.display_name} is now shared with {to.user.display_name}.")
            return redirect("patient_share", practice_slug=request.practice.slug, patient_id=patient.public_id)
    return render(
        request,
        T + "share.html",
        {"patient": patient, "form": form, "shares": list(selectors.patient_shares(patient))},
    )
