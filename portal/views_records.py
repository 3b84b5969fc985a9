"""Patient-side questionnaires and billing at /portal/questionnaires/ and /portal/billing/.

A questionnaire completed here goes through assessments.services.response_record with mode PORTAL:
the same scoring path as the /q/<token>/ link, so risk alerts fire the same way. Patients see the
score history only of the instruments the practice shares (PortalSettings.shared_instruments).
Every object is looked up through request.patient: another patient's id is a 404.
"""

from __future__ import annotations

import io

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods

from assessments.forms import QuestionnaireForm
from assessments.library import instrument_or_none
from assessments.models import Administration, Response
from assessments.scoring import RISK_FLAGS
from assessments.services import _sex_for_cutoffs, response_record
from billing.models import Statement
from billing.selectors_patient_billing import insurance_pending, patient_balance, patient_payments
from billing.statements import statement_pdf_bytes, superbill_pdf_bytes
from portal import selectors_records as selectors
from portal.access import portal_settings_for, portal_view
from portal.forms_records import SuperbillForm
from portal.views_messages import not_found_in_scope
from practice.audit import access_record
from practice.errors import DomainError

T = "portal/records/"
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff"}


def _shared_codes(request: HttpRequest) -> list[str]:
    return list(portal_settings_for(request.practice).shared_instruments or [])


@portal_view
@not_found_in_scope
@require_GET
def portal_questionnaires(request: HttpRequest) -> HttpResponse:
    due = selectors.due_administrations(patient=request.patient)
    for administration in due:
        administration.instrument = instrument_or_none(administration.instrument_code)
    results = selectors.shared_results(patient=request.patient, codes=_shared_codes(request))
    access_record(request=request, action="view", target=request.patient, reason="portal questionnaires")
    return render(request, T + "questionnaires.html", {"due": due, "results": results, "practice": request.practice})


@portal_view
@not_found_in_scope
@require_http_methods(["GET", "POST"])
def portal_questionnaire(request: HttpRequest, administration_id) -> HttpResponse:
    administration = get_object_or_404(Administration, public_id=administration_id, patient=request.patient)
    instrument = instrument_or_none(administration.instrument_code)
    patient = request.patient
    context = {
        "practice": request.practice,
        "practice_name": request.practice.name,
        "practice_phone": request.practice.phone,
        "instrument": instrument,
        "administration": administration,
    }
    if instrument is None or administration.status == Administration.Status.COMPLETED:
        context["completed_at"] = administration.completed_at
        access_record(request=request, action="view", target=administration, reason="portal questionnaire")
        return render(request, T + "questionnaire_closed.html", context)
    if not selectors.administration_is_open(administration):
        context["expired"] = True
        access_record(request=request, action="view", target=administration, reason="portal questionnaire")
        return render(request, T + "questionnaire_closed.html", context)
    ask_sex = bool(instrument.requires_sex and _sex_for_cutoffs(patient) is None)
    form = QuestionnaireForm(request.POST if request.method == "POST" else None, instrument=instrument, ask_sex=ask_sex)
    if request.method == "POST" and form.is_valid():
        try:
            response = response_record(
                patient=patient,
                instrument_code=instrument.code,
                answers=form.cleaned_data["answers"],
                mode=Response.Mode.PORTAL,
                administration=administration,
                difficulty=form.cleaned_data.get("difficulty"),
                sex=form.cleaned_data.get("sex") or None,
            )
        except DomainError as exc:
            if exc.code == "closed":
                context["expired"] = True
                return render(request, T + "questionnaire_closed.html", context)
            form.add_error(None, exc.message)
        else:
            access_record(
                request=request, action="view", target=administration, reason="questionnaire submitted in the portal"
            )
            context["response"] = response
            context["show_score"] = instrument.code in _shared_codes(request) and response.total is not None
            context["risk"] = bool(set(response.flags) & RISK_FLAGS)
            return render(request, T + "questionnaire_thanks.html", context)
    elif request.method == "GET":
        access_record(request=request, action="view", target=administration, reason="portal questionnaire")
    context["form"] = form
    return render(request, T + "questionnaire.html", context, status=400 if form.errors else 200)


@portal_view
@not_found_in_scope
@require_GET
def portal_billing(request: HttpRequest) -> HttpResponse:
    patient = request.patient
    context = {
        "practice": request.practice,
        "balance": patient_balance(patient=patient),
        "insurance_pending": insurance_pending(patient=patient),
        "statements": list(selectors.statements_of(patient=patient)),
        "payments": list(patient_payments(patient=patient, limit=50)),
        "superbill_form": SuperbillForm(),
    }
    access_record(request=request, action="view", target=patient, reason="portal billing")
    return render(request, T + "billing.html", context)


def _pdf(pdf: bytes, filename: str) -> FileResponse:
    response = FileResponse(io.BytesIO(pdf), as_attachment=True, filename=filename, content_type="application/pdf")
    for name, value in DOWNLOAD_HEADERS.items():
        response[name] = value
    return response


@portal_view
@not_found_in_scope
@require_GET
def portal_statement_pdf(request: HttpRequest, statement_id) -> HttpResponse:
    statement = get_object_or_404(
        Statement.objects.select_related("practice", "patient"), public_id=statement_id, patient=request.patient
    )
    access_record(request=request, action="print", target=statement)
    return _pdf(statement_pdf_bytes(statement=statement), f"statement-{statement.issued_on:%Y-%m-%d}.pdf")


@portal_view
@not_found_in_scope
@require_GET
def portal_superbill(request: HttpRequest) -> HttpResponse:
    form = SuperbillForm(request.GET or None)
    if request.GET and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        access_record(request=request, action="print", target=request.patient, reason="portal superbill")
        return _pdf(superbill_pdf_bytes(patient=request.patient, start=start, end=end), f"superbill-{start}-{end}.pdf")
    return render(
        request, T + "superbill.html", {"form": form, "practice": request.practice}, status=400 if form.errors else 200
    )
