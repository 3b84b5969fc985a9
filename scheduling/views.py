"""The front desk's scheduling pages: the calendar (day/week), booking, the appointment page
(reschedule, cancel, status, check-in, start a progress note), availability, appointment types
and rooms.

Thin views: parse a form, call one service or selector (scheduling.services / .selectors, owned
by the core scheduling area), render. Objects are looked up by public_id in the practice scope
(another practice's object is a 404). Pages showing patient names write an access event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from clinical import access
from clinical.models import NoteTemplate, Patient
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import AccessEvent, Location, Membership
from practice.permissions import Perm
from practice.views.base import practice_view
from scheduling import forms as f
from scheduling import selectors, services, services_catalog
from scheduling.models import (
    Appointment,
    AppointmentType,
    Attendee,
    AvailabilityException,
    AvailabilityRule,
    Room,
)

T = "scheduling/"
SLOT_MINUTES = 15
# With no clinician chosen, a practice this size shows everyone; a larger group starts from the
# user's own calendar (or the first few clinicians): 200 clinicians' week is unreadable and slow.
CALENDAR_DEFAULT_MAX_CLINICIANS = 12
DEFAULT_DAY_START = 7 * 60
DEFAULT_DAY_END = 20 * 60
MAX_LANES = 8

# The type colours the calendar can show: type.color maps to the nearest (CSS classes .appt-c0..c11;
# no inline styles under the CSP).
PALETTE = [
    "#0f766e",
    "#2563eb",
    "#7c3aed",
    "#c026d3",
    "#db2777",
    "#dc2626",
    "#ea580c",
    "#ca8a04",
    "#65a30d",
    "#16a34a",
    "#0891b2",
    "#475569",
]

# Status buttons of the appointment page, in order; shown when the services' TRANSITIONS allow them.
STATUS_BUTTONS: list[tuple[str, str]] = [
    ("confirmed", "Confirm"),
    ("arrived", "Arrived"),
    ("completed", "Completed"),
    ("no_show", "No-show"),
]

CANCELLED = ("cancelled", "late_cancelled")


def palette_index(color: str) -> int:
    try:
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    except (TypeError, ValueError):
        return 0

    def distance(hex_: str) -> int:
        pr, pg, pb = (int(hex_[i : i + 2], 16) for i in (1, 3, 5))
        return (pr - r) ** 2 + (pg - g) ** 2 + (pb - b) ** 2

    return min(range(len(PALETTE)), key=lambda i: distance(PALETTE[i]))


# Service field names -> this area's form fields.
FIELD_FOR = {"patients": "patient", "starts_at": "start_time"}


def _show_error(form, exc: DomainError) -> None:
    name = FIELD_FOR.get(exc.field or "", exc.field)
    name = name if name in form.fields else None
    form.add_error(name, exc.message)


def _tz_for(appointment: Appointment, default: str) -> ZoneInfo:
    return ZoneInfo(appointment.location.timezone if appointment.location_id else default)


def _conflict_message(exc: DomainError, tz_name: str) -> str:
    other = getattr(exc, "conflicting", None)
    if other is None:
        return exc.message
    tz = ZoneInfo(other.location.timezone if getattr(other, "location_id", None) else tz_name)
    start = timezone.localtime(other.starts_at, tz)
    end = timezone.localtime(other.ends_at, tz)
    return (
        f"That time clashes with another appointment on {start:%a %b} {start.day}, "
        f"{start:%-I:%M %p}–{end:%-I:%M %p} ({tz.key}). Choose another time."
    )


def _appointment_or_404(appointment_id: Any) -> Appointment:
    appointment = selectors.appointment_get(public_id=appointment_id)
    if appointment is None:
        raise Http404("No such appointment.")
    return appointment


def _detail_redirect(request: HttpRequest, appointment: Appointment) -> HttpResponse:
    return redirect("appointment_detail", practice_slug=request.practice.slug, appointment_id=appointment.public_id)


def _safe_next(request: HttpRequest) -> str | None:
    nxt = request.POST.get("next") or ""
    return nxt if nxt.startswith(f"/p/{request.practice.slug}/") else None


# --- Calendar --------------------------------------------------------------------------------


@dataclass
class Block:
    appointment: Appointment
    row: int
    span: int
    lane: int = 1
    start: datetime | None = None
    end: datetime | None = None
    color: int = 0
    names: list[str] = field(default_factory=list)
    can_check_in: bool = False
    # Latest PHQ-9 / GAD-7 severity per attendee (assessments.selectors_patient.SeverityTag), only
    # for members with ASSESSMENT_VIEW_RESULTS.
    scores: list = field(default_factory=list)


@dataclass
class Slot:
    row: int
    label: str
    url: str


@dataclass
class Column:
    key: str
    label: str
    sublabel: str
    day: date
    clinician: Membership | None
    blocks: list[Block] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    lanes: int = 1
    is_today: bool = False


def _assign_lanes(blocks: list[Block]) -> int:
    """Greedy lanes for overlapping blocks in one column; returns the lane count (capped)."""
    lane_ends: list[int] = []
    for block in sorted(blocks, key=lambda b: (b.row, -b.span)):
        for i, end in enumerate(lane_ends):
            if end <= block.row:
                lane_ends[i] = block.row + block.span
                block.lane = min(i + 1, MAX_LANES)
                break
        else:
            lane_ends.append(block.row + block.span)
            block.lane = min(len(lane_ends), MAX_LANES)
    return max(1, min(len(lane_ends), MAX_LANES))


def _minutes(dt: datetime) -> int:
    return dt.hour * 60 + dt.minute


@practice_view(Perm.SCHEDULE_VIEW)
def calendar_view(request: HttpRequest) -> HttpResponse:
    practice = request.practice
    filters = f.CalendarFilterForm(request.GET or None)
    filters.is_valid() if request.GET else None
    data = filters.cleaned_data if request.GET and hasattr(filters, "cleaned_data") else {}
    view = data.get("view") or "week"
    location: Location | None = data.get("location")
    tz = ZoneInfo(location.timezone if location else practice.timezone)
    today = timezone.localtime(timezone.now(), tz).date()
    day = data.get("date") or today
    all_clinicians = list(f.clinicians_qs())
    chosen = list(data.get("clinician") or [])
    clinicians = chosen or all_clinicians
    if not chosen and len(all_clinicians) > CALENDAR_DEFAULT_MAX_CLINICIANS:
        own = [c for c in all_clinicians if c.pk == request.membership.pk]
        clinicians = own or all_clinicians[:CALENDAR_DEFAULT_MAX_CLINICIANS]

    if view == "day":
        days = [day]
        prev_day, next_day = day - timedelta(days=1), day + timedelta(days=1)
    else:
        first = f.week_start(day)
        days = [first + timedelta(days=i) for i in range(7)]
        prev_day, next_day = day - timedelta(days=7), day + timedelta(days=7)
    range_start = datetime.combine(days[0], time.min, tzinfo=tz)
    range_end = datetime.combine(days[-1] + timedelta(days=1), time.min, tzinfo=tz)

    appointments = list(
        selectors.calendar_appointments(start=range_start, end=range_end, clinicians=clinicians, location=location)
    )
    access_record(request=request, action=AccessEvent.Action.LIST, object_type="scheduling.appointment")

    # Rows: one per 15 minutes from the day's start (07:00 unless something is earlier).
    local = [(a, timezone.localtime(a.starts_at, tz), timezone.localtime(a.ends_at, tz)) for a in appointments]
    day_start = min([DEFAULT_DAY_START, *(_minutes(s) // 60 * 60 for _, s, _ in local)])
    day_end = max(
        [
            DEFAULT_DAY_END,
            *((min(_minutes(e) if e.date() == s.date() else 24 * 60, 24 * 60) + 59) // 60 * 60 for _, s, e in local),
        ]
    )
    n_rows = (day_end - day_start) // SLOT_MINUTES

    slug = practice.slug
    new_url = reverse("appointment_new", kwargs={"practice_slug": slug})
    single = clinicians[0] if len(clinicians) == 1 else None

    columns: list[Column] = []
    if view == "day":
        for c in clinicians:
            columns.append(
                Column(
                    key=str(c.public_id),
                    label=c.user.display_name,
                    sublabel=c.title,
                    day=day,
                    clinician=c,
                    is_today=day == today,
                )
            )
    else:
        for d in days:
            columns.append(
                Column(
                    key=d.isoformat(),
                    label=f"{d:%a}",
                    sublabel=f"{d:%b} {d.day}",
                    day=d,
                    clinician=single,
                    is_today=d == today,
                )
            )
    index = {(col.day, col.clinician.pk if view == "day" else None): col for col in columns}
    severities: dict = {}
    if request.membership.has_perm(Perm.ASSESSMENT_VIEW_RESULTS):
        from assessments.selectors_patient import latest_severity_by_patient

        severities = latest_severity_by_patient(  # one query for the page
            att.patient_id for appointment, _s, _e in local for att in appointment.attendees.all()
        )

    for appointment, start, end in local:
        key = (start.date(), appointment.clinician_id if view == "day" else None)
        col = index.get(key)
        if col is None:
            continue
        start_min = _minutes(start)
        end_min = _minutes(end) if end.date() == start.date() else 24 * 60
        row = (start_min - day_start) // SLOT_MINUTES + 1
        span = max(1, min(32, -(-(end_min - start_min) // SLOT_MINUTES)))
        col.blocks.append(
            Block(
                appointment=appointment,
                row=row,
                span=span,
                start=start,
                end=end,
                color=palette_index(appointment.appointment_type.color),
                names=[att.patient.display_name for att in appointment.attendees.all()],
                scores=[t for att in appointment.attendees.all() for t in severities.get(att.patient_id, ())],
                can_check_in=start.date() == today and appointment.status in ("scheduled", "confirmed"),
            )
        )
    can_book = request.membership.has_perm(Perm.SCHEDULE_MANAGE)
    for col in columns:
        col.lanes = _assign_lanes(col.blocks)
        if can_book:
            for r in range(0, n_rows, 2):
                at = datetime.combine(col.day, time.min, tzinfo=tz) + timedelta(minutes=day_start + r * SLOT_MINUTES)
                params = {"start": at.strftime("%Y-%m-%dT%H:%M")}
                if col.clinician is not None:
                    params["clinician"] = str(col.clinician.public_id)
                if location is not None:
                    params["location"] = str(location.public_id)
                label = f"Book {at:%a %b} {at.day} at {at:%-I:%M %p}"
                if col.clinician is not None:
                    label += f" with {col.clinician.user.display_name}"
                col.slots.append(Slot(row=r + 1, label=label, url=f"{new_url}?{urlencode(params)}"))

    hours = [
        {"row": (m - day_start) // SLOT_MINUTES + 1, "label": time(m // 60, 0).strftime("%-I %p")}
        for m in range(day_start, day_end, 60)
    ]

    def link(**changes: Any) -> str:
        params: list[tuple[str, str]] = [("view", view), ("date", day.isoformat())]
        if location:
            params.append(("location", str(location.public_id)))
        params += [("clinician", str(c.public_id)) for c in chosen]
        merged = dict(params)
        merged.update({k: v for k, v in changes.items() if k != "clinician"})
        out = [(k, v) for k, v in merged.items() if k != "clinician"] + [
            ("clinician", v) for k, v in params if k == "clinician"
        ]
        return "?" + urlencode(out)

    if not request.GET:
        filters = f.CalendarFilterForm(initial={"view": view, "date": day})
    if view == "day":
        title = f"{day:%A, %B} {day.day}, {day:%Y}"
    else:
        title = f"{days[0]:%b} {days[0].day} – {days[-1]:%b} {days[-1].day}, {days[-1]:%Y}"
    return render(
        request,
        T + "calendar.html",
        {
            "filters": filters,
            "view": view,
            "day": day,
            "title": title,
            "tz_name": tz.key,
            "columns": columns,
            "hours": hours,
            "n_rows": n_rows,
            "location": location,
            "chosen": chosen,
            "clinicians": all_clinicians,
            "shown_clinicians": clinicians if not chosen and len(clinicians) < len(all_clinicians) else None,
            "can_book": can_book,
            "prev_url": link(date=prev_day.isoformat()),
            "next_url": link(date=next_day.isoformat()),
            "today_url": link(date=today.isoformat()),
            "day_url": link(view="day"),
            "week_url": link(view="week"),
            "count": len(appointments),
            "here": request.get_full_path(),
        },
    )


# --- Booking ---------------------------------------------------------------------------------


def _parse_start(value: str) -> tuple[date | None, time | None]:
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None, None
    return dt.date(), dt.time().replace(second=0, microsecond=0)


@practice_view(Perm.SCHEDULE_MANAGE)
def appointment_new_view(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    patients = access.patients_visible_to(membership)
    if request.method == "POST":
        form = f.AppointmentForm(request.POST, patients=patients, practice=request.practice)
        if form.is_valid():
            data = form.cleaned_data
            try:
                appointment = services.appointment_book(
                    by=membership,
                    clinician=data["clinician"],
                    appointment_type=data["appointment_type"],
                    starts_at=form.starts_at(),
                    patients=list(data["patient"]),
                    location=data.get("location"),
                    room=data.get("room"),
                    is_telehealth=bool(data.get("is_telehealth")),
                    telehealth_url=data.get("telehealth_url") or "",
                    admin_note=data.get("admin_note") or "",
                    rrule=form.rrule(),
                )
            except DomainError as exc:
                if getattr(exc, "conflicting", None) is not None:
                    form.add_error(None, _conflict_message(exc, form.tz_name))
                else:
                    _show_error(form, exc)
            else:
                messages.success(request, "Series booked." if appointment.series_id else "Appointment booked.")
                for warning in _authorization_warnings(appointment):
                    messages.warning(request, warning)
                return _detail_redirect(request, appointment)
        selected = list(form.cleaned_data.get("patient") or []) if hasattr(form, "cleaned_data") else []
    else:
        initial: dict[str, Any] = {"repeat": "none", "repeat_end": "count", "count": 6}
        day, at = _parse_start(request.GET.get("start", ""))
        if day:
            initial |= {"day": day, "start_time": at}
        for key, qs in (("clinician", f.clinicians_qs()), ("location", f.locations_qs())):
            value = request.GET.get(key)
            if value:
                obj = qs.filter(public_id=_uuid_or_none(value)).first() if _uuid_or_none(value) else None
                if obj is not None:
                    initial[key] = obj.pk
        selected = []
        patient_id = _uuid_or_none(request.GET.get("patient", ""))
        if patient_id:
            selected = list(patients.filter(public_id=patient_id)[:1])
        form = f.AppointmentForm(initial=initial, patients=patients, practice=request.practice)
    return render(
        request,
        T + "appointment_new.html",
        {"form": form, "selected": selected},
    )


def _uuid_or_none(value: str):
    import uuid

    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


@practice_view(Perm.SCHEDULE_MANAGE)
def appointment_patient_search_view(request: HttpRequest) -> HttpResponse:
    """htmx: patients matching the query, as radio choices inside the booking form."""
    from clinical.selectors.patients import patient_search

    query = (request.GET.get("q") or "").strip()
    results: list[Patient] = []
    if len(query) >= 2:
        results = list(patient_search(membership=request.membership, query=query)[:10])
        access_record(request=request, action=AccessEvent.Action.SEARCH, object_type="clinical.patient")
    return render(request, T + "_patient_choices.html", {"patients": results, "query": query})


@practice_view(Perm.SCHEDULE_MANAGE)
def appointment_open_slots_view(request: HttpRequest) -> HttpResponse:
    """htmx: open slots for the chosen clinician and type over the next days."""
    clinician = f.clinicians_qs().filter(pk=_int_or_none(request.GET.get("clinician"))).first()
    appointment_type = AppointmentType.objects.filter(
        pk=_int_or_none(request.GET.get("appointment_type")), is_active=True
    ).first()
    location = f.locations_qs().filter(pk=_int_or_none(request.GET.get("location"))).first()
    slots: list[Any] = []
    tz = ZoneInfo(location.timezone if location else request.practice.timezone)
    start = timezone.localtime(timezone.now(), tz).date()
    try:
        picked = date.fromisoformat(request.GET.get("day") or "")
        start = max(start, picked)
    except ValueError:
        pass
    if clinician and appointment_type:
        found = selectors.open_slots(
            clinician=clinician,
            appointment_type=appointment_type,
            start=start,
            end=start + timedelta(days=7),
            location=location,
        )
        for slot in list(found)[:40]:
            slot_tz = ZoneInfo(slot.location.timezone) if getattr(slot, "location", None) else tz
            local = timezone.localtime(slot.starts_at, slot_tz)
            slots.append(
                {
                    "day": local.date().isoformat(),
                    "time": local.strftime("%H:%M"),
                    "label": f"{local:%a %b} {local.day}, {local:%-I:%M %p}",
                    "location": getattr(slot, "location", None),
                }
            )
    return render(
        request,
        T + "_open_slots.html",
        {"slots": slots, "ready": bool(clinician and appointment_type)},
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- The appointment page --------------------------------------------------------------------


def _late_cancel(appointment: Appointment) -> bool:
    return services.is_late_cancel(appointment)


def _next_statuses(appointment: Appointment) -> list[tuple[str, str]]:
    allowed = services.TRANSITIONS.get(appointment.status, frozenset())
    return [(value, label) for value, label in STATUS_BUTTONS if value in allowed]


def _authorization_warnings(appointment: Appointment) -> list[str]:
    """Billing: the payer needs a prior authorization this visit lacks (a warning, never a block)."""
    from billing.selectors_setup import appointment_authorization_warnings

    return appointment_authorization_warnings(appointment)


def _detail_context(request: HttpRequest, appointment: Appointment, **forms_: Any) -> dict[str, Any]:
    membership = request.membership
    tz = _tz_for(appointment, request.practice.timezone)
    start = timezone.localtime(appointment.starts_at, tz)
    end = timezone.localtime(appointment.ends_at, tz)
    attendees = list(appointment.attendees.all())
    visible = set(
        access.patients_visible_to(membership)
        .filter(pk__in=[a.patient_id for a in attendees])
        .values_list("pk", flat=True)
    )
    in_series = appointment.series_id is not None
    can_manage = membership.has_perm(Perm.SCHEDULE_MANAGE)
    rows = []
    for att in attendees:
        rows.append({"attendee": att, "can_open_chart": att.patient_id in visible})
    series_siblings = []
    if in_series:
        series_siblings = list(
            Appointment.objects.filter(series_id=appointment.series_id)
            .order_by("starts_at")
            .only("public_id", "starts_at", "status", "location", "series")[:60]
        )
    history = list(appointment.status_changes.select_related("changed_by__user").order_by("created_at", "id"))
    today = timezone.localtime(timezone.now(), tz).date()
    reschedule_initial = {
        "day": start.date(),
        "start_time": start.time().replace(second=0, microsecond=0),
        "scope": "this",
    }
    return {
        "appointment": appointment,
        "start": start,
        "end": end,
        "tz_name": tz.key,
        "attendees": rows,
        "history": history,
        "in_series": in_series,
        "series_siblings": series_siblings,
        "is_active": appointment.status in Appointment.ACTIVE_STATUSES,
        "auth_warnings": _authorization_warnings(appointment)
        if appointment.status in Appointment.ACTIVE_STATUSES and appointment.starts_at >= timezone.now()
        else [],
        "is_cancelled": appointment.status in CANCELLED,
        "late": _late_cancel(appointment),
        "can_manage": can_manage,
        "can_write_notes": membership.has_perm(Perm.NOTE_WRITE),
        "next_statuses": _next_statuses(appointment) if can_manage else [],
        "can_check_in": can_manage and start.date() == today and appointment.status in ("scheduled", "confirmed"),
        "color": palette_index(appointment.appointment_type.color),
        "reschedule_form": forms_.get("reschedule_form")
        or f.RescheduleForm(initial=reschedule_initial, in_series=in_series),
        "cancel_form": forms_.get("cancel_form") or f.CancelForm(initial={"scope": "this"}, in_series=in_series),
        "open_dialog": forms_.get("open_dialog", ""),
        "calendar_url": reverse("calendar", kwargs={"practice_slug": request.practice.slug})
        + "?"
        + urlencode({"view": "day", "date": start.date().isoformat()}),
    }


@practice_view(Perm.SCHEDULE_VIEW)
def appointment_detail_view(request: HttpRequest, appointment_id: Any) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    access_record(request=request, action=AccessEvent.Action.VIEW, target=appointment)
    return render(request, T + "appointment_detail.html", _detail_context(request, appointment))


@practice_view(Perm.SCHEDULE_MANAGE)
def appointment_reschedule_view(request: HttpRequest, appointment_id: Any) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    in_series = appointment.series_id is not None
    if request.method != "POST":
        return render(
            request, T + "appointment_detail.html", _detail_context(request, appointment, open_dialog="reschedule")
        )
    form = f.RescheduleForm(request.POST, in_series=in_series)
    if form.is_valid():
        data = form.cleaned_data
        tz = _tz_for(appointment, request.practice.timezone)
        starts_at = f.local_datetime(data["day"], data["start_time"], tz.key)
        try:
            services.appointment_reschedule(
                appointment=appointment,
                by=request.membership,
                starts_at=starts_at,
                ends_at=starts_at + (appointment.ends_at - appointment.starts_at),
                clinician=data.get("clinician"),
                room=data.get("room"),
                scope=data.get("scope") or "this",
            )
        except DomainError as exc:
            if getattr(exc, "conflicting", None) is not None:
                form.add_error(None, _conflict_message(exc, tz.key))
            else:
                _show_error(form, exc)
        else:
            messages.success(request, "Appointment moved.")
            appointment.refresh_from_db()
            for warning in _authorization_warnings(appointment):
                messages.warning(request, warning)
            return _detail_redirect(request, appointment)
    context = _detail_context(request, appointment, reschedule_form=form, open_dialog="reschedule")
    return render(request, T + "appointment_detail.html", context, status=400)


@practice_view(Perm.SCHEDULE_MANAGE)
def appointment_cancel_view(request: HttpRequest, appointment_id: Any) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    in_series = appointment.series_id is not None
    if request.method != "POST":
        return render(
            request, T + "appointment_detail.html", _detail_context(request, appointment, open_dialog="cancel")
        )
    form = f.CancelForm(request.POST, in_series=in_series)
    if form.is_valid():
        try:
            services.appointment_cancel(
                appointment=appointment,
                by=request.membership,
                reason=form.cleaned_data["reason"],
                scope=form.cleaned_data.get("scope") or "this",
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Appointment cancelled.")
            return _detail_redirect(request, appointment)
    context = _detail_context(request, appointment, cancel_form=form, open_dialog="cancel")
    return render(request, T + "appointment_detail.html", context, status=400)


@require_POST
@practice_view(Perm.SCHEDULE_MANAGE)
def appointment_status_view(request: HttpRequest, appointment_id: Any) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    status = request.POST.get("status", "")
    if status not in Appointment.Status.values:
        messages.error(request, "Choose a status.")
        return _detail_redirect(request, appointment)
    try:
        services.appointment_set_status(
            appointment=appointment, by=request.membership, status=status, reason=request.POST.get("reason", "")[:200]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Marked {Appointment.Status(status).label.lower()}.")
    return redirect(_safe_next(request) or _detail_url(request, appointment))


def _detail_url(request: HttpRequest, appointment: Appointment) -> str:
    return reverse(
        "appointment_detail", kwargs={"practice_slug": request.practice.slug, "appointment_id": appointment.public_id}
    )


@require_POST
@practice_view(Perm.SCHEDULE_MANAGE)
def appointment_check_in_view(request: HttpRequest, appointment_id: Any) -> HttpResponse:
    appointment = _appointment_or_404(appointment_id)
    try:
        services.appointment_check_in(appointment=appointment, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Checked in.")
    return redirect(_safe_next(request) or _detail_url(request, appointment))


@require_POST
@practice_view(Perm.NOTE_WRITE)
def appointment_start_note_view(request: HttpRequest, appointment_id: Any, attendee_id: Any) -> HttpResponse:
    """Start (or open) the attendee's progress note, prefilled from the appointment."""
    from clinical.services import notes as note_services

    appointment = _appointment_or_404(appointment_id)
    attendee = get_object_or_404(
        Attendee.objects.select_related("patient", "progress_note"), appointment=appointment, public_id=attendee_id
    )
    slug = request.practice.slug
    if attendee.progress_note_id:
        return redirect("note_edit", practice_slug=slug, note_id=attendee.progress_note.public_id)
    if not access.can_view_clinical(request.membership, attendee.patient):
        raise Http404("No such patient.")
    template = _note_template(appointment)
    if template is None:
        messages.error(request, "No active progress-note template: add one under Note templates first.")
        return _detail_redirect(request, appointment)
    tz = _tz_for(appointment, request.practice.timezone)
    start = timezone.localtime(appointment.starts_at, tz)
    end = timezone.localtime(appointment.ends_at, tz)
    fields: dict[str, Any] = {
        "start_time": start.time().replace(second=0, microsecond=0),
        "end_time": end.time().replace(second=0, microsecond=0),
        "modality": "telehealth" if appointment.is_telehealth else "in_person",
    }
    if appointment.appointment_type.default_service_code:
        fields["service_code"] = appointment.appointment_type.default_service_code
    if appointment.location_id:
        fields["location"] = appointment.location
    try:
        note = _create_and_link(note_services, request.membership, attendee, template, start.date(), fields)
    except DomainError as exc:
        if exc.code in ("forbidden", "not_found"):
            raise Http404("No such patient.") from exc
        messages.error(request, exc.message)
        return _detail_redirect(request, appointment)
    try:
        return redirect("note_edit", practice_slug=slug, note_id=note.public_id)
    except NoReverseMatch:
        return _detail_redirect(request, appointment)


def _create_and_link(note_services, membership, attendee, template, session_on, fields):
    from django.db import transaction

    with transaction.atomic():
        locked = Attendee.objects.select_for_update().get(pk=attendee.pk)
        if locked.progress_note_id:
            return locked.progress_note
        note = note_services.note_create(
            author=membership, patient=attendee.patient, template=template, session_on=session_on, **fields
        )
        locked.progress_note = note
        locked.save(update_fields=["progress_note", "updated_at"])
    return note


def _note_template(appointment: Appointment) -> NoteTemplate | None:
    templates = NoteTemplate.objects.filter(is_active=True)
    kind = "group" if appointment.appointment_type.is_group else "soap"
    return (
        templates.filter(kind=kind).order_by("-is_builtin", "name").first()
        or templates.filter(kind__in=["soap", "dap", "birp"]).order_by("kind", "name").first()
    )


# --- Availability ----------------------------------------------------------------------------


@practice_view(Perm.SCHEDULE_VIEW)
def availability_view(request: HttpRequest) -> HttpResponse:
    can_manage = request.membership.has_perm(Perm.SCHEDULE_MANAGE)
    rule_form = f.AvailabilityRuleForm(prefix="rule")
    exception_form = f.AvailabilityExceptionForm(prefix="exc", tz_name=request.practice.timezone)
    if request.method == "POST":
        if not can_manage:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        kind = request.POST.get("form")
        if kind == "rule":
            rule_form = f.AvailabilityRuleForm(request.POST, prefix="rule")
            if rule_form.is_valid():
                try:
                    services.availability_rule_create(by=request.membership, **rule_form.cleaned_data)
                except DomainError as exc:
                    _show_error(rule_form, exc)
                else:
                    messages.success(request, "Working hours added.")
                    return redirect("availability", practice_slug=request.practice.slug)
        elif kind == "exception":
            exception_form = f.AvailabilityExceptionForm(request.POST, prefix="exc", tz_name=request.practice.timezone)
            if exception_form.is_valid():
                try:
                    services.availability_exception_create(by=request.membership, **exception_form.cleaned_data)
                except DomainError as exc:
                    _show_error(exception_form, exc)
                else:
                    messages.success(request, "Exception added.")
                    return redirect("availability", practice_slug=request.practice.slug)
    clinician_filter = _uuid_or_none(request.GET.get("clinician", ""))
    clinicians = list(f.clinicians_qs())
    shown = [c for c in clinicians if c.public_id == clinician_filter] if clinician_filter else None
    rules = selectors.availability_rules(clinicians=shown).order_by(
        "clinician__user__full_name", "clinician_id", "weekday", "start_time"
    )
    exceptions = selectors.availability_exceptions(clinicians=shown, start=timezone.now() - timedelta(days=7))
    by_clinician: dict[int, dict[str, Any]] = {}
    for rule in rules:
        entry = by_clinician.setdefault(rule.clinician_id, {"clinician": rule.clinician, "rules": []})
        entry["rules"].append(rule)
    tz = ZoneInfo(request.practice.timezone)
    exception_rows = [
        {
            "exception": e,
            "start": timezone.localtime(e.starts_at, ZoneInfo(e.location.timezone) if e.location_id else tz),
            "end": timezone.localtime(e.ends_at, ZoneInfo(e.location.timezone) if e.location_id else tz),
        }
        for e in exceptions[:200]
    ]
    return render(
        request,
        T + "availability.html",
        {
            "groups": list(by_clinician.values()),
            "exceptions": exception_rows,
            "rule_form": rule_form,
            "exception_form": exception_form,
            "can_manage": can_manage,
            "clinicians": clinicians,
            "clinician_filter": clinician_filter,
        },
    )


@practice_view(Perm.SCHEDULE_MANAGE)
def availability_rule_edit_view(request: HttpRequest, rule_id: Any) -> HttpResponse:
    rule = get_object_or_404(AvailabilityRule.objects.select_related("clinician__user", "location"), public_id=rule_id)
    form = f.AvailabilityRuleForm(instance=rule, fixed_clinician=True)
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            try:
                services.availability_rule_delete(rule=rule, by=request.membership)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "Working hours removed.")
            return redirect("availability", practice_slug=request.practice.slug)
        form = f.AvailabilityRuleForm(
            request.POST, instance=AvailabilityRule.objects.get(pk=rule.pk), fixed_clinician=True
        )
        if form.is_valid():
            try:
                services.availability_rule_update(rule=rule, by=request.membership, **form.cleaned_data)
            except DomainError as exc:
                _show_error(form, exc)
            else:
                messages.success(request, "Working hours saved.")
                return redirect("availability", practice_slug=request.practice.slug)
    return render(request, T + "availability_edit.html", {"form": form, "object": rule, "what": "working hours"})


@practice_view(Perm.SCHEDULE_MANAGE)
def availability_exception_edit_view(request: HttpRequest, exception_id: Any) -> HttpResponse:
    exception = get_object_or_404(
        AvailabilityException.objects.select_related("clinician__user", "location"), public_id=exception_id
    )
    tz_name = exception.location.timezone if exception.location_id else request.practice.timezone
    form = f.AvailabilityExceptionForm(instance=exception, tz_name=tz_name, fixed_clinician=True)
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            try:
                services.availability_exception_delete(exception=exception, by=request.membership)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, "Exception removed.")
            return redirect("availability", practice_slug=request.practice.slug)
        form = f.AvailabilityExceptionForm(
            request.POST,
            instance=AvailabilityException.objects.get(pk=exception.pk),
            tz_name=tz_name,
            fixed_clinician=True,
        )
        if form.is_valid():
            try:
                services.availability_exception_update(exception=exception, by=request.membership, **form.cleaned_data)
            except DomainError as exc:
                _show_error(form, exc)
            else:
                messages.success(request, "Exception saved.")
                return redirect("availability", practice_slug=request.practice.slug)
    return render(request, T + "availability_edit.html", {"form": form, "object": exception, "what": "exception"})


# --- Appointment types and rooms -------------------------------------------------------------


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def appointment_type_list_view(request: HttpRequest) -> HttpResponse:
    form = f.AppointmentTypeForm()
    if request.method == "POST":
        form = f.AppointmentTypeForm(request.POST)
        if form.is_valid():
            try:
                services_catalog.appointment_type_create(by=request.membership, **form.cleaned_data)
            except DomainError as exc:
                _show_error(form, exc)
            else:
                messages.success(request, "Appointment type added.")
                return redirect("appointment_type_list", practice_slug=request.practice.slug)
    types = [
        {"type": t, "color": palette_index(t.color)} for t in AppointmentType.objects.order_by("-is_active", "name")
    ]
    return render(request, T + "type_list.html", {"types": types, "form": form})


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def appointment_type_edit_view(request: HttpRequest, type_id: Any) -> HttpResponse:
    appointment_type = get_object_or_404(AppointmentType, public_id=type_id)
    form = f.AppointmentTypeForm(instance=appointment_type)
    if request.method == "POST":
        form = f.AppointmentTypeForm(request.POST, instance=AppointmentType.objects.get(pk=appointment_type.pk))
        if form.is_valid():
            try:
                services_catalog.appointment_type_update(
                    appointment_type=appointment_type, by=request.membership, **form.cleaned_data
                )
            except DomainError as exc:
                _show_error(form, exc)
            else:
                messages.success(request, "Appointment type saved.")
                return redirect("appointment_type_list", practice_slug=request.practice.slug)
    return render(request, T + "type_edit.html", {"form": form, "object": appointment_type})


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def room_list_view(request: HttpRequest) -> HttpResponse:
    form = f.RoomForm()
    if request.method == "POST":
        form = f.RoomForm(request.POST)
        if form.is_valid():
            try:
                services_catalog.room_create(by=request.membership, **form.cleaned_data)
            except DomainError as exc:
                _show_error(form, exc)
            else:
                messages.success(request, "Room added.")
                return redirect("room_list", practice_slug=request.practice.slug)
    rooms = Room.objects.select_related("location").order_by("location__name", "name")
    return render(request, T + "room_list.html", {"rooms": rooms, "form": form})


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def room_edit_view(request: HttpRequest, room_id: Any) -> HttpResponse:
    room = get_object_or_404(Room.objects.select_related("location"), public_id=room_id)
    form = f.RoomForm(instance=room)
    if request.method == "POST":
        form = f.RoomForm(request.POST, instance=Room.objects.get(pk=room.pk))
        if form.is_valid():
            try:
                services_catalog.room_update(room=room, by=request.membership, **form.cleaned_data)
            except DomainError as exc:
                _show_error(form, exc)
            else:
                messages.success(request, "Room saved.")
                return redirect("room_list", practice_slug=request.practice.slug)
    return render(request, T + "room_edit.html", {"form": form, "object": room})
