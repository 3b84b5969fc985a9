"""Patient-side appointments: list, book (type -> clinician -> slot -> confirm), detail with the
telehealth join link, cancel (late-cancel policy shown first) and reschedule. Thin views: rules in
portal.services_booking, reads in portal.selectors_booking."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portal import selectors_booking as sel
from portal import services_booking as services
from portal.access import portal_settings_for, portal_view
from portal.forms_booking import CancelForm, ConfirmBookingForm, parse_start
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import Location
from practice.views.errors import not_found
from scheduling.models import AppointmentType
from scheduling.selectors import scheduling_settings

T = "portal/appointments/"


def _appointment_or_none(request: HttpRequest, appointment_id):
    """The patient's own appointment (another patient's id finds nothing), audited as read.

    Views answer a miss with `not_found(request)` rendered here, inside the practice scope: an
    Http404 raised out of `portal_view` renders the 404 page after the scope has closed, where the
    portal navigation's unread-message query fails (see the report to the lead)."""
    appointment = sel.patient_appointment_get(request.patient, appointment_id)
    if appointment is not None:
        access_record(request=request, action="view", target=appointment)
    return appointment


@portal_view
def portal_appointments(request: HttpRequest) -> HttpResponse:
    upcoming, past = sel.patient_appointment_lists(request.patient)
    portal = portal_settings_for(request.practice)
    now = timezone.now()
    for appointment in upcoming:
        appointment.join_visible = sel.join_link_visible(appointment, portal=portal, now=now)
    access_record(request=request, action="view", target=request.patient)
    return render(
        request,
        T + "list.html",
        {"upcoming": upcoming, "past": past, "portal": portal, "can_book": portal.online_booking_enabled},
    )


def _choice(options, public_id):
    if len(options) == 1 and not public_id:
        return options[0]
    return next((o for o in options if str(o.public_id) == (public_id or "")), None)


def _start_day(value: str | None, window: sel.Window) -> date:
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        day = window.first_day
    return min(max(day, window.first_day), window.last_day)


def _slot_page(*, clinician, appointment_type, window, start_param):
    start = _start_day(start_param, window)
    slots = sel.slots_for(clinician=clinician, appointment_type=appointment_type, window=window, start=start)
    nxt = start + timedelta(days=sel.DAYS_PER_PAGE)
    prev = start - timedelta(days=sel.DAYS_PER_PAGE)
    return {
        "days": sel.slots_by_day(slots),
        "start": start,
        "next_start": nxt if nxt <= window.last_day else None,
        "prev_start": max(prev, window.first_day) if start > window.first_day else None,
        "page_end": min(start + timedelta(days=sel.DAYS_PER_PAGE - 1), window.last_day),
    }


@portal_view
def portal_book(request: HttpRequest) -> HttpResponse:
    """Step by step on one URL: ?type=…, then &clinician=…, then the open slots (a week a page)."""
    portal = portal_settings_for(request.practice)
    context: dict = {"portal": portal, "practice": request.practice}
    if not portal.online_booking_enabled:
        return render(request, T + "book_disabled.html", context)
    is_new = sel.patient_is_new(request.patient)
    types = sel.bookable_types(patient=request.patient, portal=portal, is_new=is_new)
    clinicians = sel.bookable_clinicians(patient=request.patient, portal=portal)
    context.update(types=types, clinicians=clinicians, is_new=is_new)
    if not types or not clinicians:
        return render(request, T + "book_disabled.html", {**context, "nothing_bookable": True})
    chosen_type = _choice(types, request.GET.get("type"))
    chosen_clinician = _choice(clinicians, request.GET.get("clinician")) if chosen_type else None
    context.update(chosen_type=chosen_type, chosen_clinician=chosen_clinician)
    if chosen_type and chosen_clinician:
        window = sel.booking_window(portal=portal, sched=scheduling_settings(request.practice))
        context.update(
            _slot_page(
                clinician=chosen_clinician,
                appointment_type=chosen_type,
                window=window,
                start_param=request.GET.get("from"),
            )
        )
        query = f"?type={chosen_type.public_id}&clinician={chosen_clinician.public_id}&"
        context.update(window=window, page_url_base=query, slot_url_base=reverse("portal_book_confirm") + query)
    return render(request, T + "book.html", context)


def _lookup_choice(request: HttpRequest, portal):
    types = sel.bookable_types(patient=request.patient, portal=portal)
    clinicians = sel.bookable_clinicians(patient=request.patient, portal=portal)
    data = request.POST if request.method == "POST" else request.GET
    chosen_type = next((t for t in types if str(t.public_id) == data.get("type", "")), None)
    chosen_clinician = next((c for c in clinicians if str(c.public_id) == data.get("clinician", "")), None)
    location = None
    if data.get("location"):
        location = Location.objects.filter(public_id=_uuid_or_none(data.get("location"))).first()
    return chosen_type, chosen_clinician, location, parse_start(data.get("start")), data


def _uuid_or_none(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@portal_view
@require_http_methods(["GET", "POST"])
def portal_book_confirm(request: HttpRequest) -> HttpResponse:
    portal = portal_settings_for(request.practice)
    if not portal.online_booking_enabled:
        return redirect("portal_book")
    appointment_type, clinician, location, starts_at, data = _lookup_choice(request, portal)
    if appointment_type is None or clinician is None or starts_at is None:
        messages.error(request, "That choice is no longer available. Pick again.")
        return redirect("portal_book")
    form = ConfirmBookingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            appointment = services.portal_appointment_book(
                access=request.portal_access,
                appointment_type=appointment_type,
                clinician=clinician,
                starts_at=starts_at,
                location=location,
                is_telehealth=form.cleaned_data.get("modality") == "telehealth",
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            url = reverse("portal_book") + f"?type={appointment_type.public_id}&clinician={clinician.public_id}"
            return redirect(url)
        messages.success(request, "Your appointment is booked.")
        return redirect("portal_appointment_detail", appointment_id=appointment.public_id)
    return render(
        request,
        T + "confirm.html",
        {
            "form": form,
            "appointment_type": appointment_type,
            "clinician": clinician,
            "location": location,
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=appointment_type.duration_minutes),
            "start_param": data.get("start"),
            "ask_modality": appointment_type.modality == AppointmentType.Modality.EITHER,
            "fee": sel.late_cancel_fee(request.practice),
            "sched": scheduling_settings(request.practice),
        },
    )


@portal_view
def portal_appointment_detail(request: HttpRequest, appointment_id) -> HttpResponse:
    appointment = _appointment_or_none(request, appointment_id)
    if appointment is None:
        return not_found(request)
    portal = portal_settings_for(request.practice)
    return render(
        request,
        T + "detail.html",
        {
            "appointment": appointment,
            "attendance": sel.my_attendance(appointment),
            "join_visible": sel.join_link_visible(appointment, portal=portal),
            "portal": portal,
            "can_cancel": sel.patient_can_change(appointment),
            "can_reschedule": sel.patient_can_reschedule(appointment) and portal.online_booking_enabled,
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def portal_appointment_cancel(request: HttpRequest, appointment_id) -> HttpResponse:
    """GET explains (the late-cancel policy and fee when it applies); POST cancels."""
    from scheduling.services import is_late_cancel

    appointment = _appointment_or_none(request, appointment_id)
    if appointment is None:
        return not_found(request)
    if not sel.patient_can_change(appointment):
        messages.error(request, "This appointment can no longer be cancelled online. Please call the practice.")
        return redirect("portal_appointment_detail", appointment_id=appointment.public_id)
    sched = scheduling_settings(request.practice)
    late = is_late_cancel(appointment)
    fee = sel.late_cancel_fee(request.practice)
    fee_applies = late and sched.late_cancel_fee_cents > 0
    form = CancelForm(request.POST or None, fee_applies=fee_applies)
    if request.method == "POST" and form.is_valid():
        try:
            was_late = services.portal_appointment_cancel(
                access=request.portal_access, appointment=appointment, reason=form.cleaned_data.get("reason", "")
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("portal_appointment_detail", appointment_id=appointment.public_id)
        if was_late and sched.late_cancel_fee_cents > 0:
            messages.success(request, f"Your appointment is cancelled. A late-cancellation fee of ${fee} applies.")
        else:
            messages.success(request, "Your appointment is cancelled.")
        return redirect("portal_appointments")
    return render(
        request,
        T + "cancel.html",
        {
            "appointment": appointment,
            "form": form,
            "late": late,
            "fee": fee,
            "fee_applies": fee_applies,
            "sched": sched,
        },
    )


@portal_view
@require_http_methods(["GET", "POST"])
def portal_appointment_reschedule(request: HttpRequest, appointment_id) -> HttpResponse:
    """GET lists open slots of the same clinician and type (?start= picks one to confirm); POST moves."""
    from scheduling.services import is_late_cancel

    appointment = _appointment_or_none(request, appointment_id)
    if appointment is None:
        return not_found(request)
    portal = portal_settings_for(request.practice)
    detail = redirect("portal_appointment_detail", appointment_id=appointment.public_id)
    if not portal.online_booking_enabled or not sel.patient_can_reschedule(appointment):
        messages.error(request, "This appointment cannot be moved online. Please call the practice.")
        return detail
    sched = scheduling_settings(request.practice)
    if is_late_cancel(appointment):
        messages.error(
            request,
            f"Appointments less than {sched.late_cancel_hours} hours away cannot be moved online. "
            "Please call the practice.",
        )
        return detail
    data = request.POST if request.method == "POST" else request.GET
    starts_at = parse_start(data.get("start"))
    location = None
    if data.get("location"):
        location = Location.objects.filter(public_id=_uuid_or_none(data.get("location"))).first()
    if request.method == "POST":
        if starts_at is None:
            messages.error(request, "Pick a new time.")
            return redirect("portal_appointment_reschedule", appointment_id=appointment.public_id)
        try:
            services.portal_appointment_reschedule(
                access=request.portal_access, appointment=appointment, starts_at=starts_at, location=location
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("portal_appointment_reschedule", appointment_id=appointment.public_id)
        messages.success(request, "Your appointment is moved.")
        return detail
    context: dict = {"appointment": appointment, "starts_at": starts_at, "start_param": data.get("start")}
    if starts_at is not None:
        context["ends_at"] = starts_at + (appointment.ends_at - appointment.starts_at)
        context["location"] = location
    else:
        window = sel.booking_window(portal=portal, sched=sched)
        context.update(
            _slot_page(
                clinician=appointment.clinician,
                appointment_type=appointment.appointment_type,
                window=window,
                start_param=request.GET.get("from"),
            )
        )
        context.update(page_url_base="?", slot_url_base="?")
    return render(request, T + "reschedule.html", context)
