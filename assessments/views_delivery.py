"""Staff pages for questionnaire delivery: protocols and assessment settings (admins and
supervisors), and a patient's questionnaires (clinicians): enter one in session or from paper,
see and correct a response, assign or end a protocol, send a questionnaire now.

Thin views: parse a form, call one service or selector, render. Objects are looked up by public_id
in the practice scope (another practice's is a 404); patient pages go through `patient_view`
(caseload rule). Reads of clinical content write an access event.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from assessments import selectors_delivery as sel
from assessments import services_delivery as svc
from assessments.forms import (
    AssessmentSettingsForm,
    AssignForm,
    CompletionDetailsForm,
    CorrectionForm,
    InstrumentPickForm,
    ProtocolForm,
    QuestionnaireForm,
    SendForm,
)
from assessments.library import instrument_or_none
from assessments.models import Protocol, ProtocolAssignment, Response
from assessments.services import assessment_settings_get, assessment_settings_update, response_correct, response_record
from clinical.models import Patient
from clinical.views.base import patient_view
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import AccessEvent, Membership
from practice.permissions import Perm
from practice.views.base import practice_view


def _show_error(form: Any, exc: DomainError) -> None:
    if exc.code in ("forbidden", "not_found"):
        raise Http404("Not found.")
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _chart_url(request: HttpRequest, patient: Patient) -> str:
    return reverse("patient_chart", kwargs={"practice_slug": request.practice.slug, "patient_id": patient.public_id})


# --- Protocols and settings ------------------------------------------------------------------


def _clinicians():
    return Membership.objects.filter(is_active=True).select_related("user").order_by("user__full_name")


@practice_view(Perm.ASSESSMENT_MANAGE_PROTOCOLS)
def protocol_list_view(request: HttpRequest) -> HttpResponse:
    return render(request, "assessments/delivery/protocol_list.html", {"protocols": sel.protocols_with_counts()})


@practice_view(Perm.ASSESSMENT_MANAGE_PROTOCOLS)
@require_http_methods(["GET", "POST"])
def protocol_new_view(request: HttpRequest) -> HttpResponse:
    form = ProtocolForm(
        request.POST or None,
        clinicians=_clinicians(),
        initial={"audience": Protocol.Audience.ALL, "at_intake": True, "channel": "email", "auto_assign": True},
    )
    if request.method == "POST" and form.is_valid():
        try:
            protocol = svc.protocol_create(by=request.membership, **form.service_kwargs())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Protocol “{protocol.name}” created.")
            return redirect("protocol_list", practice_slug=request.practice.slug)
    return render(request, "assessments/delivery/protocol_form.html", {"form": form, "protocol": None})


@practice_view(Perm.ASSESSMENT_MANAGE_PROTOCOLS)
@require_http_methods(["GET", "POST"])
def protocol_edit_view(request: HttpRequest, protocol_id) -> HttpResponse:
    try:
        protocol = sel.protocol_get(protocol_id=protocol_id)
    except Protocol.DoesNotExist as exc:
        raise Http404("No such protocol.") from exc
    if request.method == "POST" and request.POST.get("action") == "deactivate":
        ended = svc.protocol_deactivate(protocol=protocol, by=request.membership)
        messages.success(request, f"Protocol switched off; {ended} assignment{'s' if ended != 1 else ''} ended.")
        return redirect("protocol_list", practice_slug=request.practice.slug)
    initial = {
        "name": protocol.name,
        "instrument_codes": protocol.instrument_codes,
        "audience": protocol.audience,
        "diagnosis_prefixes": ", ".join(protocol.diagnosis_prefixes or []),
        "clinicians": list(protocol.clinicians.all()),
        "at_intake": protocol.at_intake,
        "every_n_sessions": protocol.every_n_sessions,
        "every_n_weeks": protocol.every_n_weeks,
        "channel": protocol.channel,
        "auto_assign": protocol.auto_assign,
    }
    form = ProtocolForm(request.POST or None, initial=initial, clinicians=_clinicians())
    if request.method == "POST" and form.is_valid():
        try:
            svc.protocol_update(protocol=protocol, by=request.membership, **form.service_kwargs())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Protocol saved.")
            return redirect("protocol_list", practice_slug=request.practice.slug)
    active = ProtocolAssignment.objects.filter(protocol=protocol, status=ProtocolAssignment.Status.ACTIVE).count()
    return render(
        request,
        "assessments/delivery/protocol_form.html",
        {"form": form, "protocol": protocol, "active_assignments": active},
    )


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
@require_http_methods(["GET", "POST"])
def assessment_settings_view(request: HttpRequest) -> HttpResponse:
    row = assessment_settings_get(practice_id=request.practice.pk)
    form = AssessmentSettingsForm(request.POST or None, instance=row)
    if request.method == "POST" and form.is_valid():
        try:
            assessment_settings_update(
                by=request.membership, **{name: form.cleaned_data[name] for name in form.Meta.fields}
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Assessment settings saved.")
            return redirect("assessment_settings", practice_slug=request.practice.slug)
    return render(request, "assessments/delivery/settings.html", {"form": form})


# --- A patient's questionnaires ----------------------------------------------------------------


def _ask_sex(instrument, patient: Patient) -> bool:
    from assessments.services import _sex_for_cutoffs

    return bool(instrument.requires_sex and _sex_for_cutoffs(patient) is None)


@patient_view(Perm.ASSESSMENT_ASSIGN, clinical=True)
@require_http_methods(["GET", "POST"])
def assessment_administer_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    pick = InstrumentPickForm(source if "instrument" in source else None)
    instrument = instrument_or_none(pick.cleaned_data["instrument"]) if pick.is_valid() else None
    context: dict[str, Any] = {
        "patient": patient,
        "pick": pick,
        "instrument": instrument,
        "chart_url": _chart_url(request, patient),
    }
    if instrument is None:
        return render(request, "assessments/delivery/administer.html", context)
    mode = pick.cleaned_data["mode"]
    posted = request.method == "POST"
    form = QuestionnaireForm(
        request.POST if posted else None,
        instrument=instrument,
        allow_missing=mode == "paper",
        ask_sex=_ask_sex(instrument, patient),
    )
    details = CompletionDetailsForm(request.POST if posted else None, initial={"mode": mode})
    if posted and form.is_valid() and details.is_valid():
        completed_at = None
        if mode == "paper":
            completed_at = timezone.make_aware(datetime.combine(details.cleaned_data["completed_on"], time(12, 0)))
        try:
            response = response_record(
                patient=patient,
                instrument_code=instrument.code,
                answers=form.cleaned_data["answers"],
                mode=Response.Mode.PAPER if mode == "paper" else Response.Mode.CLINICIAN,
                by=request.membership,
                difficulty=form.cleaned_data.get("difficulty"),
                sex=form.cleaned_data.get("sex") or None,
                completed_at=completed_at,
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"{instrument.code} recorded.")
            return redirect(
                "response_detail",
                practice_slug=request.practice.slug,
                patient_id=patient.public_id,
                response_id=response.public_id,
            )
    context |= {"form": form, "details": details, "mode": mode}
    return render(request, "assessments/delivery/administer.html", context)


def _response_or_404(patient: Patient, response_id) -> Response:
    try:
        return sel.response_get(patient=patient, response_id=response_id)
    except Response.DoesNotExist as exc:
        raise Http404("No such response.") from exc


@patient_view(Perm.ASSESSMENT_VIEW_RESULTS, clinical=True)
def response_detail_view(request: HttpRequest, patient: Patient, response_id) -> HttpResponse:
    response = _response_or_404(patient, response_id)
    instrument = instrument_or_none(response.instrument_code)
    if instrument is None:
        raise Http404("Unknown instrument.")
    access_record(request=request, action=AccessEvent.Action.VIEW, target=response)
    chain = sel.response_chain(response)
    corrected_by = chain[chain.index(response) + 1] if chain[-1] != response else None
    context = {
        "patient": patient,
        "response": response,
        "instrument": instrument,
        "items": sel.response_items(response, instrument),
        "difficulty_label": sel.difficulty_label(response, instrument),
        "chain": chain if len(chain) > 1 else [],
        "corrected_by": corrected_by,
        "can_correct": corrected_by is None and request.membership.has_perm(Perm.ASSESSMENT_ASSIGN),
        "chart_url": _chart_url(request, patient),
    }
    return render(request, "assessments/delivery/response_detail.html", context)


@patient_view(Perm.ASSESSMENT_ASSIGN, clinical=True)
@require_http_methods(["GET", "POST"])
def response_correct_view(request: HttpRequest, patient: Patient, response_id) -> HttpResponse:
    original = _response_or_404(patient, response_id)
    instrument = instrument_or_none(original.instrument_code)
    if instrument is None:
        raise Http404("Unknown instrument.")
    detail_url = reverse(
        "response_detail",
        kwargs={
            "practice_slug": request.practice.slug,
            "patient_id": patient.public_id,
            "response_id": original.public_id,
        },
    )
    if Response.objects.filter(corrects=original).exists():
        messages.info(request, "This response has already been corrected; correct the newest one.")
        return redirect(detail_url)
    posted = request.method == "POST"
    form = QuestionnaireForm(
        request.POST if posted else None,
        instrument=instrument,
        allow_missing=original.mode == Response.Mode.PAPER,
        initial_answers=original.answers,
        initial_difficulty=original.difficulty,
    )
    reason = CorrectionForm(request.POST if posted else None)
    if posted and form.is_valid() and reason.is_valid():
        try:
            corrected = response_correct(
                original=original,
                by=request.membership,
                answers=form.cleaned_data["answers"],
                reason=reason.cleaned_data["reason"],
                difficulty=form.cleaned_data.get("difficulty"),
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Correction saved; the original is kept and marked as corrected.")
            return redirect(
                "response_detail",
                practice_slug=request.practice.slug,
                patient_id=patient.public_id,
                response_id=corrected.public_id,
            )
    access_record(request=request, action=AccessEvent.Action.VIEW, target=original)
    return render(
        request,
        "assessments/delivery/response_correct.html",
        {
            "patient": patient,
            "original": original,
            "instrument": instrument,
            "form": form,
            "reason_form": reason,
            "detail_url": detail_url,
        },
    )


@patient_view(Perm.ASSESSMENT_ASSIGN, clinical=True)
@require_http_methods(["GET", "POST"])
def assessment_assign_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = AssignForm(request.POST or None, protocols=sel.assignable_protocols())
    if request.method == "POST" and form.is_valid():
        try:
            svc.protocol_assign(protocol=form.cleaned_data["protocol"], patient=patient, by=request.membership)
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Protocol assigned; its questionnaires are scheduled.")
            return redirect("assessment_assign", practice_slug=request.practice.slug, patient_id=patient.public_id)
    access_record(
        request=request,
        action=AccessEvent.Action.LIST,
        object_type="assessments.administration",
        patient_id=patient.public_id,
    )
    return render(
        request,
        "assessments/delivery/assign.html",
        {
            "patient": patient,
            "form": form,
            "assignments": sel.patient_assignments(patient),
            "administrations": sel.administrations_for_patient(patient),
            "chart_url": _chart_url(request, patient),
        },
    )


@patient_view(Perm.ASSESSMENT_ASSIGN, clinical=True)
@require_POST
def assignment_end_view(request: HttpRequest, patient: Patient, assignment_id) -> HttpResponse:
    assignment = ProtocolAssignment.objects.filter(patient=patient, public_id=assignment_id).first()
    if assignment is None:
        raise Http404("No such assignment.")
    cancelled = svc.assignment_end(assignment=assignment, by=request.membership)
    messages.success(
        request, f"Protocol ended; {cancelled} unsent questionnaire{'s' if cancelled != 1 else ''} cancelled."
    )
    return redirect("assessment_assign", practice_slug=request.practice.slug, patient_id=patient.public_id)


@patient_view(Perm.ASSESSMENT_ASSIGN, clinical=True)
@require_http_methods(["GET", "POST"])
def assessment_send_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    from notifications.services import consent_is_granted

    form = SendForm(request.POST or None, initial={"channel": "email"})
    if request.method == "POST" and form.is_valid():
        try:
            svc.administration_request(
                patient=patient,
                instrument_code=form.cleaned_data["instrument_code"],
                channel=form.cleaned_data["channel"],
                by=request.membership,
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Questionnaire sent.")
            return redirect("assessment_assign", practice_slug=request.practice.slug, patient_id=patient.public_id)
    consent = [
        {
            "channel": "Email",
            "granted": consent_is_granted(patient=patient, channel="email"),
            "address": bool(patient.email),
        },
        {
            "channel": "Text message",
            "granted": consent_is_granted(patient=patient, channel="sms"),
            "address": bool(patient.phone),
        },
    ]
    return render(
        request,
        "assessments/delivery/send.html",
        {"patient": patient, "form": form, "consent": consent, "chart_url": _chart_url(request, patient)},
    )
