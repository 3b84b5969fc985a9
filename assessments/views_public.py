"""The public questionnaire link `/q/<token>/`: no practice slug, no login; the 256-bit token is
the credential (only its sha256 is stored). The token's practice is found with one unscoped hash
lookup (`administration_practice_id_for_token`), then everything runs inside that practice's scope.

Each open and each submission is written to the access log as an anonymous event (no user; the
token holder is the patient) with the administration as its object.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from assessments import services_delivery as svc
from assessments.forms import QuestionnaireForm
from assessments.library import instrument_or_none
from assessments.models import Response
from assessments.scoring import RISK_FLAGS
from assessments.services import _sex_for_cutoffs, response_record
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import AccessEvent
from practice.scoping import practice_scope

PUBLIC_HEADERS = {
    "Cache-Control": "no-store, private",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


def _headers(response: HttpResponse) -> HttpResponse:
    for name, value in PUBLIC_HEADERS.items():
        response[name] = value
    return response


# CSRF exemption: the page has no session or cookie authority to protect (the unguessable token in
# the URL is the only credential, and whoever holds it can submit anyway), and with
# `Referrer-Policy: no-referrer` browsers send `Origin: null` on the form post, which Django's
# origin check refuses.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def questionnaire_link_view(request: HttpRequest, token: str) -> HttpResponse:
    practice_id = svc.administration_practice_id_for_token(token)
    if practice_id is None:
        raise Http404("No such questionnaire.")
    with practice_scope(practice_id) as practice:
        administration = svc.administration_by_token(token)
        if administration is None:
            raise Http404("No such questionnaire.")
        instrument = instrument_or_none(administration.instrument_code)
        if instrument is None:
            raise Http404("No such questionnaire.")
        request.practice = practice  # for the access log (anonymous actor)
        patient = administration.patient
        state = svc.link_state(administration)
        context = {
            "practice": practice,
            "practice_name": practice.name,
            "practice_phone": practice.phone,
            "first_name": patient.preferred_name or patient.legal_first_name,
            "instrument": instrument,
            "state": state,
            "completed_at": administration.completed_at,
        }
        if request.method == "POST" and state == "completed":
            # A double submit: the first response stands; show the same thank-you again.
            stored = Response.objects.filter(administration=administration).first()
            context["risk"] = bool(stored and set(stored.flags) & RISK_FLAGS)
            return _headers(render(request, "assessments/public/thanks.html", context))
        if state != "open":
            access_record(
                request=request, action=AccessEvent.Action.VIEW, target=administration, reason="questionnaire link"
            )
            return _headers(render(request, "assessments/public/closed.html", context))
        ask_sex = bool(instrument.requires_sex and _sex_for_cutoffs(patient) is None)
        form = QuestionnaireForm(
            request.POST if request.method == "POST" else None, instrument=instrument, ask_sex=ask_sex
        )
        if request.method == "POST" and form.is_valid():
            try:
                response = response_record(
                    patient=patient,
                    instrument_code=instrument.code,
                    answers=form.cleaned_data["answers"],
                    mode=Response.Mode.LINK,
                    administration=administration,
                    difficulty=form.cleaned_data.get("difficulty"),
                    sex=form.cleaned_data.get("sex") or None,
                )
            except DomainError as exc:
                if exc.code == "closed":
                    administration.refresh_from_db()
                    context["state"] = svc.link_state(administration)
                    return _headers(render(request, "assessments/public/closed.html", context))
                form.add_error(None, exc.message)
            else:
                access_record(
                    request=request,
                    action=AccessEvent.Action.VIEW,
                    target=administration,
                    reason="questionnaire submitted from link",
                )
                context["risk"] = bool(set(response.flags) & RISK_FLAGS)
                return _headers(render(request, "assessments/public/thanks.html", context))
        elif request.method == "GET":
            access_record(
                request=request, action=AccessEvent.Action.VIEW, target=administration, reason="questionnaire link"
            )
        context["form"] = form
        context["now"] = timezone.now()
        return _headers(render(request, "assessments/public/questionnaire.html", context))
