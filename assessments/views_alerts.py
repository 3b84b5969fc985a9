"""Risk-alert pages: the list of alerts a member acts on, and one alert with its acknowledge form
and the safety-loop panel (an earlier appointment from the open slots, the next progress note).

Thin views: the rules are in services_alerts, the reads in selectors_alerts. An alert the member
may not act on is a 404, whichever practice it belongs to. Reading an alert writes an access event.
"""

from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from assessments import selectors_alerts as selectors
from assessments.forms_alerts import AcknowledgeForm, AlertFilterForm
from assessments.library import instrument_or_none
from assessments.models import RiskAlert
from assessments.services_alerts import LEVEL_LABELS, flagged_items, risk_alert_acknowledge
from practice.audit import access_record
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

T = "assessments/alerts/"


@practice_view(Perm.RISK_ALERT_ACKNOWLEDGE)
def risk_alert_list_view(request: HttpRequest) -> HttpResponse:
    filters = AlertFilterForm(request.GET or None)
    status = filters.cleaned_data.get("status", "") if request.GET and filters.is_valid() else ""
    alerts = selectors.risk_alert_list(member=request.membership, status=status)
    access_record(request=request, action="list", object_type="assessments.riskalert", object_id="risk-alerts")
    return render(
        request,
        T + "list.html",
        {
            "alerts": alerts,
            "filters": filters,
            "status": status,
            "open_count": sum(1 for a in alerts if a.status == RiskAlert.Status.OPEN),
            "level_labels": LEVEL_LABELS,
        },
    )


def _booking_url(request: HttpRequest, alert: RiskAlert, slot) -> str:
    tz = ZoneInfo(slot.location.timezone if slot.location else request.practice.timezone)
    params = {
        "start": timezone.localtime(slot.starts_at, tz).strftime("%Y-%m-%dT%H:%M"),
        "clinician": str(slot.clinician.public_id),
        "patient": str(alert.patient.public_id),
    }
    if slot.location is not None:
        params["location"] = str(slot.location.public_id)
    return reverse("appointment_new", kwargs={"practice_slug": request.practice.slug}) + "?" + urlencode(params)


def _safety_loop(request: HttpRequest, alert: RiskAlert) -> dict:
    from clinical.models import ProgressNote

    me = request.membership
    out: dict = {"can_book": me.has_perm(Perm.SCHEDULE_MANAGE), "can_write_note": me.has_perm(Perm.NOTE_WRITE)}
    next_attendance = selectors.next_booked_attendance(alert.patient) if me.has_perm(Perm.SCHEDULE_VIEW) else None
    out["next_attendance"] = next_attendance
    slots = selectors.earlier_slots(alert=alert, next_attendance=next_attendance) if out["can_book"] else []
    tz = ZoneInfo(request.practice.timezone)
    out["slots"] = [
        {
            "slot": slot,
            "local": timezone.localtime(slot.starts_at, ZoneInfo(slot.location.timezone) if slot.location else tz),
            "url": _booking_url(request, alert, slot),
        }
        for slot in slots
    ]
    out["draft_note"] = (
        ProgressNote.objects.filter(patient=alert.patient, author=me, status=ProgressNote.Status.DRAFT)
        .order_by("-session_on", "-id")
        .first()
        if out["can_write_note"]
        else None
    )
    return out


def _render_detail(request: HttpRequest, alert: RiskAlert, form: AcknowledgeForm | None = None, status: int = 200):
    instrument = instrument_or_none(alert.response.instrument_code)
    context = {
        "alert": alert,
        "response": alert.response,
        "instrument": instrument,
        "items": flagged_items(alert.response),
        "flag_labels": [flag.replace("_", " ").capitalize() for flag in alert.flags or []],
        "trail": selectors.escalation_trail(alert),
        "level_label": LEVEL_LABELS.get(alert.escalation_level, ""),
        "form": form or AcknowledgeForm(),
        "loop": _safety_loop(request, alert),
    }
    return render(request, T + "detail.html", context, status=status)


@practice_view(Perm.RISK_ALERT_ACKNOWLEDGE)
def risk_alert_detail_view(request: HttpRequest, alert_id) -> HttpResponse:
    try:
        alert = selectors.risk_alert_get(member=request.membership, alert_id=alert_id)
    except RiskAlert.DoesNotExist as exc:
        raise Http404("No such alert.") from exc
    access_record(request=request, action="view", target=alert)
    if request.method != "POST":
        return _render_detail(request, alert)
    form = AcknowledgeForm(request.POST)
    if form.is_valid():
        try:
            risk_alert_acknowledge(
                alert=alert, by=request.membership, action=form.cleaned_data["action"], note=form.cleaned_data["note"]
            )
        except DomainError as exc:
            if exc.code == "forbidden":
                raise PermissionDenied(exc.message) from exc
            if exc.code == "not_found":
                raise Http404(exc.message) from exc
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Alert acknowledged.")
            return redirect("risk_alert_detail", practice_slug=request.practice.slug, alert_id=alert.public_id)
    return _render_detail(request, alert, form=form, status=400)
