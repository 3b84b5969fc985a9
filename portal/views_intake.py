"""Patient-side intake pages under /portal/forms/: the packet overview, one step per page (answers
saved on every Save and continue), card photo uploads, and the summary with Submit.

Every view is a `portal_view`; submissions are looked up through `request.patient`.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from billing.models import Payer
from portal import selectors_intake as selectors
from portal import services_intake as services
from portal.access import portal_view
from portal.forms_intake import (
    DEMOGRAPHIC_FIELDS,
    DEMOGRAPHIC_LABELS,
    GUARDIAN_FIELDS,
    HISTORY_LABELS,
    INSURANCE_LABELS,
    CardUploadForm,
    ConsentSignForm,
    DemographicsForm,
    HistoryForm,
    InsuranceForm,
)
from portal.models import IntakeSignature, IntakeStep, IntakeSubmission
from practice.audit import access_record
from practice.errors import DomainError

T = "portal/intake/"
K = IntakeStep.Kind


def _in_scope_404(view):
    """Render a 404 inside the portal scope: the project's 404 handler runs outside it, where the
    portal navigation's query has no practice scope (reported to the lead). Applied under portal_view."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return render(request, "errors/404.html", status=404)

    return wrapper


def _submission(request: HttpRequest, submission_id) -> IntakeSubmission:
    try:
        return selectors.submission_for_patient(patient=request.patient, submission_id=submission_id)
    except IntakeSubmission.DoesNotExist as exc:
        raise Http404("No such form.") from exc


def _steps(submission: IntakeSubmission) -> list[IntakeStep]:
    return list(submission.packet.steps.select_related("consent").order_by("position"))


def _step_url(submission: IntakeSubmission, position: int) -> str:
    return reverse("portal_intake_step", kwargs={"submission_id": submission.public_id}) + f"?n={position}"


def _questionnaire_url(administration) -> str:
    try:
        return reverse("portal_questionnaire", kwargs={"administration_id": administration.public_id})
    except NoReverseMatch:  # the questionnaires area is not installed yet
        return ""


def _progress(submission: IntakeSubmission, steps: list[IntakeStep]) -> dict[str, Any]:
    done = set(submission.completed_steps)
    return {
        "steps": [{"step": s, "done": s.pk in done} for s in steps],
        "done_count": sum(1 for s in steps if s.pk in done),
        "total": len(steps),
        "next_position": next((s.position for s in steps if s.pk not in done), None),
    }


@portal_view
def portal_intake(request: HttpRequest) -> HttpResponse:
    packet = selectors.packet_for_practice(request.practice)
    submission = selectors.latest_submission(patient=request.patient, packet=packet) if packet else None
    if request.method == "POST" and packet is not None:
        try:
            submission = services.submission_start(access=request.portal_access, packet=packet)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("portal_intake")
        steps = _steps(submission)
        position = _progress(submission, steps)["next_position"]
        if position is None:
            return redirect("portal_intake_review_submit", submission_id=submission.public_id)
        return redirect(_step_url(submission, position))
    context: dict[str, Any] = {"packet": packet, "submission": submission}
    if submission is not None:
        access_record(request=request, action="view", target=submission)
        context.update(_progress(submission, _steps(submission)))
    return render(request, T + "index.html", context)


def _require_editable(request: HttpRequest, submission: IntakeSubmission) -> HttpResponse | None:
    if submission.status not in services.EDITABLE:
        messages.info(request, "These forms were sent to the practice; you can no longer change them.")
        return redirect("portal_intake")
    return None


def _demographics_initial(request: HttpRequest, saved: dict) -> dict:
    patient = request.patient
    if saved:
        return saved
    return {name: getattr(patient, name) for name in (*DEMOGRAPHIC_FIELDS, *GUARDIAN_FIELDS)}


def _payers() -> list:
    return list(Payer.objects.order_by("name").only("public_id", "name"))


def _form_for(request: HttpRequest, step: IntakeStep, saved: dict, data=None):
    if step.kind == K.DEMOGRAPHICS:
        initial = _demographics_initial(request, saved)
        return DemographicsForm(data, initial=initial, is_minor=request.patient.is_minor)
    if step.kind == K.INSURANCE:
        return InsuranceForm(data, initial=saved, payers=_payers())
    if step.kind == K.HISTORY:
        return HistoryForm(data, initial=saved)
    if step.kind == K.CONSENT:
        return ConsentSignForm(data)
    return None


@portal_view
@_in_scope_404
def portal_intake_step(request: HttpRequest, submission_id) -> HttpResponse:
    submission = _submission(request, submission_id)
    if (blocked := _require_editable(request, submission)) is not None:
        return blocked
    steps = _steps(submission)
    try:
        position = int(request.GET.get("n") or (_progress(submission, steps)["next_position"] or 1))
    except ValueError as exc:
        raise Http404("No such step.") from exc
    step = next((s for s in steps if s.position == position), None)
    if step is None:
        raise Http404("No such step.")
    index = steps.index(step)
    previous = steps[index - 1] if index > 0 else None
    following = steps[index + 1] if index + 1 < len(steps) else None
    next_url = (
        _step_url(submission, following.position)
        if following
        else reverse("portal_intake_review_submit", kwargs={"submission_id": submission.public_id})
    )
    saved = submission.data.get(str(step.pk)) or {}
    form = _form_for(request, step, saved, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        try:
            if step.kind == K.QUESTIONNAIRES:
                services.questionnaires_ensure(submission=submission, step=step)
                return redirect(next_url)
            if form is not None and form.is_valid():
                if step.kind == K.CONSENT:
                    services.consent_sign(
                        submission=submission,
                        step=step,
                        access=request.portal_access,
                        typed_name=form.cleaned_data["typed_name"],
                        agreed=form.cleaned_data["agree"],
                        ip_address=request.META.get("REMOTE_ADDR"),
                        user_agent=request.META.get("HTTP_USER_AGENT", ""),
                    )
                else:
                    services.step_save(submission=submission, step=step, answers=form.answers())
                messages.success(request, "Saved.")
                return redirect(next_url)
        except DomainError as exc:
            if exc.code == "not_editable":
                messages.info(request, exc.message)
                return redirect("portal_intake")
            if form is None:
                messages.error(request, exc.message)
            else:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        status = 400
    access_record(request=request, action="view", target=submission)
    context: dict[str, Any] = {
        "submission": submission,
        "step": step,
        "form": form,
        "previous_url": _step_url(submission, previous.position) if previous else reverse("portal_intake"),
        "next_url": next_url,
        "position_label": f"Step {index + 1} of {len(steps)}",
        **_progress(submission, steps),
    }
    if step.kind == K.CONSENT:
        context["consent"] = step.consent
        context["body_paragraphs"] = [p.strip() for p in step.consent.body.split("\n\n") if p.strip()]
        signature_id = saved.get("signature_id")
        context["signature"] = (
            IntakeSignature.objects.filter(submission=submission, public_id=signature_id).first()
            if signature_id
            else None
        )
        context["signer_is_guardian"] = request.portal_access.relationship == "guardian"
    elif step.kind == K.INSURANCE:
        context["uploads"] = services.current_uploads(submission)
        context["upload_form"] = CardUploadForm()
        context["upload_url"] = reverse("portal_intake_upload", kwargs={"submission_id": submission.public_id})
    elif step.kind == K.DEMOGRAPHICS:
        context["date_of_birth"] = request.patient.date_of_birth
    elif step.kind == K.QUESTIONNAIRES:
        try:
            administrations = services.questionnaires_ensure(submission=submission, step=step)
        except DomainError as exc:
            administrations = {}
            context["questionnaire_error"] = exc.message
        context["questionnaires"] = [
            {"code": code, "administration": a, "url": _questionnaire_url(a), "done": a.status == "completed"}
            for code, a in administrations.items()
        ]
    return render(request, T + "step.html", context, status=status)


@require_POST
@portal_view
@_in_scope_404
def portal_intake_upload(request: HttpRequest, submission_id) -> HttpResponse:
    submission = _submission(request, submission_id)
    if (blocked := _require_editable(request, submission)) is not None:
        return blocked
    step = next((s for s in _steps(submission) if s.kind == K.INSURANCE), None)
    if step is None:
        raise Http404("No insurance step.")
    form = CardUploadForm(request.POST, request.FILES)
    back = _step_url(submission, step.position)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    try:
        services.upload_add(
            submission=submission, kind=form.cleaned_data["kind"], uploaded_file=form.cleaned_data["file"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, "Card photo added.")
    return redirect(back)


def summary_sections(submission: IntakeSubmission, steps: list[IntakeStep]) -> list[dict[str, Any]]:
    """Each step with its answers as (label, value) rows, for the patient's summary."""
    labels = {K.DEMOGRAPHICS: DEMOGRAPHIC_LABELS, K.INSURANCE: INSURANCE_LABELS, K.HISTORY: HISTORY_LABELS}
    payer_names = {str(p.public_id): p.name for p in _payers()}
    signatures = {str(s.public_id): s for s in submission.signatures.all()}
    sections = []
    for step in steps:
        answers = submission.data.get(str(step.pk)) or {}
        rows: list[tuple[str, str]] = []
        if step.kind in labels:
            for name, value in answers.items():
                if name in labels[step.kind] and value:
                    if name == "payer":
                        value = payer_names.get(value, "Other")
                    rows.append((labels[step.kind][name], value))
        elif step.kind == K.CONSENT:
            signature = signatures.get(answers.get("signature_id", ""))
            if signature:
                rows.append(("Signed", f"{signature.typed_name}, {signature.signed_at:%Y-%m-%d %H:%M}"))
        elif step.kind == K.QUESTIONNAIRES:
            rows.append(("Questionnaires", ", ".join(step.instrument_codes)))
        sections.append({"step": step, "rows": rows, "done": step.pk in submission.completed_steps})
    return sections


@portal_view
@_in_scope_404
def portal_intake_review_submit(request: HttpRequest, submission_id) -> HttpResponse:
    submission = _submission(request, submission_id)
    if (blocked := _require_editable(request, submission)) is not None:
        return blocked
    steps = _steps(submission)
    status = 200
    error = ""
    if request.method == "POST":
        try:
            services.submission_submit(submission=submission)
        except DomainError as exc:
            error, status = exc.message, 400
        else:
            messages.success(request, "Thank you. Your forms were sent to the practice for review.")
            return redirect("portal_intake")
        submission.refresh_from_db()
    access_record(request=request, action="view", target=submission)
    context = {
        "submission": submission,
        "sections": summary_sections(submission, steps),
        "uploads": services.current_uploads(submission),
        "error": error,
        **_progress(submission, steps),
    }
    return render(request, T + "review.html", context, status=status)
