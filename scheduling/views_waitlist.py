"""Waitlist pages (front desk), clinicians' calendar feeds, and the two public token pages: the
waitlist offer a patient answers and the iCalendar feed a calendar app polls.

The public pages have no practice slug and no login: the token is the credential. Each resolves
its token's practice with one unscoped hash lookup (documented in scheduling.waitlist and
scheduling.ical) and then runs inside that practice's scope.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from clinical.access import patients_visible_to
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import AccessEvent
from practice.permissions import Perm
from practice.scoping import practice_scope
from practice.views.base import practice_view
from scheduling import ical
from scheduling import waitlist as wl
from scheduling.forms_waitlist import WaitlistEntryForm, WaitlistFilterForm
from scheduling.models import CalendarFeed, WaitlistEntry

# --- Waitlist (staff) --------------------------------------------------------------------------


@practice_view(Perm.SCHEDULE_VIEW)
def waitlist_view(request: HttpRequest) -> HttpResponse:
    membership = request.membership
    filters = WaitlistFilterForm(request.GET or None)
    cleaned = filters.cleaned_data if filters.is_valid() else {}
    entries = list(
        wl.waitlist_list(
            visible_patients=patients_visible_to(membership),
            statuses=filters.statuses(),
            clinician=cleaned.get("clinician"),
            appointment_type=cleaned.get("appointment_type"),
            priority=cleaned.get("priority"),
        )
    )
    for entry in entries:
        entry.days_label = days_label(entry.weekdays)
    access_record(request=request, action=AccessEvent.Action.LIST, object_type="scheduling.waitlistentry")
    return render(
        request,
        "scheduling/waitlist/list.html",
        {
            "entries": entries,
            "filters": filters,
            "can_manage": membership.has_perm(Perm.SCHEDULE_MANAGE),
            "now": timezone.now(),
        },
    )


DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def days_label(weekdays: list[int]) -> str:
    if not weekdays or len(weekdays) == 7:
        return "Any day"
    return ", ".join(DAY_NAMES[d] for d in sorted(weekdays) if 0 <= d <= 6)


def _entry_args(data: dict) -> dict:
    return {
        "appointment_type": data["appointment_type"],
        "clinicians": list(data.get("clinicians") or []),
        "location": data.get("location"),
        "weekdays": data.get("weekdays") or [],
        "earliest_time": data.get("earliest_time"),
        "latest_time": data.get("latest_time"),
        "priority": data.get("priority") or 3,
        "notes": data.get("notes", ""),
    }


def _show_error(form: WaitlistEntryForm, exc: DomainError) -> None:
    if exc.code in ("forbidden", "not_found"):
        raise Http404("Not found.")
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@practice_view(Perm.SCHEDULE_MANAGE)
@require_http_methods(["GET", "POST"])
def waitlist_entry_new_view(request: HttpRequest) -> HttpResponse:
    patients = patients_visible_to(request.membership)
    form = WaitlistEntryForm(request.POST or None, patients=patients)
    if request.method == "POST" and form.is_valid():
        try:
            entry = wl.waitlist_entry_create(
                by=request.membership, patient=form.cleaned_data["patient"], **_entry_args(form.cleaned_data)
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Added to the waitlist.")
            return redirect("waitlist_entry", practice_slug=request.practice.slug, entry_id=entry.public_id)
    return render(request, "scheduling/waitlist/entry_form.html", {"form": form, "entry": None})


@practice_view(Perm.SCHEDULE_MANAGE)
@require_http_methods(["GET", "POST"])
def waitlist_entry_view(request: HttpRequest, entry_id) -> HttpResponse:
    try:
        entry = wl.waitlist_entry_get(entry_id=entry_id)
    except WaitlistEntry.DoesNotExist as exc:
        raise Http404("No such entry.") from exc
    if not patients_visible_to(request.membership).filter(pk=entry.patient_id).exists():
        raise Http404("No such entry.")
    access_record(request=request, action=AccessEvent.Action.VIEW, target=entry)
    initial = {
        "appointment_type": entry.appointment_type,
        "clinicians": list(entry.clinicians.all()),
        "location": entry.location,
        "weekdays": entry.weekdays,
        "earliest_time": entry.earliest_time,
        "latest_time": entry.latest_time,
        "priority": entry.priority,
        "notes": entry.notes,
        "is_removed": entry.status == WaitlistEntry.Status.REMOVED,
    }
    form = WaitlistEntryForm(
        request.POST or None, initial=initial, patients=patients_visible_to(request.membership), entry=entry
    )
    if request.method == "POST" and form.is_valid():
        try:
            wl.waitlist_entry_update(
                entry=entry,
                by=request.membership,
                is_removed=form.cleaned_data.get("is_removed", False),
                **_entry_args(form.cleaned_data),
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, "Waitlist entry saved.")
            return redirect("waitlist", practice_slug=request.practice.slug)
    offers = list(wl.waitlist_entry_offers(entry=entry)[:20])
    return render(request, "scheduling/waitlist/entry_form.html", {"form": form, "entry": entry, "offers": offers})


# --- Calendar feeds (each clinician their own) ------------------------------------------------


@practice_view(Perm.SCHEDULE_VIEW)
@require_http_methods(["GET", "POST"])
def calendar_feeds_view(request: HttpRequest) -> HttpResponse:
    new_url = None
    if request.method == "POST":
        try:
            _feed, token = ical.calendar_feed_create(clinician=request.membership, by=request.membership)
        except DomainError as exc:
            raise PermissionDenied(exc.message) from exc
        new_url = request.build_absolute_uri(reverse("ical_feed", kwargs={"token": token}))
    feeds = list(ical.calendar_feed_list(clinician=request.membership))
    return render(request, "scheduling/feeds/feeds.html", {"feeds": feeds, "new_url": new_url})


@practice_view(Perm.SCHEDULE_VIEW)
@require_POST
def calendar_feed_revoke_view(request: HttpRequest, feed_id) -> HttpResponse:
    try:
        feed = ical.calendar_feed_get(clinician=request.membership, feed_id=feed_id)
    except CalendarFeed.DoesNotExist as exc:
        raise Http404("No such feed.") from exc
    ical.calendar_feed_revoke(feed=feed, by=request.membership)
    messages.success(request, "Feed revoked: calendar apps using that link stop updating.")
    return redirect("calendar_feeds", practice_slug=request.practice.slug)


# --- Public: iCalendar feed and waitlist offers -----------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD"])
def ical_feed_view(request: HttpRequest, token: str) -> HttpResponse:
    feed = ical.calendar_feed_for_token(token)
    if feed is None:
        raise Http404("No such feed.")
    with practice_scope(feed.practice_id):
        body = ical.calendar_feed_render(feed=feed)
        ical.calendar_feed_touch(feed=feed)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="tend.ics"'
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


OUTCOME_MESSAGES = {
    "accepted": "You're booked. We look forward to seeing you.",
    "declined": "Thanks for letting us know. You stay on the waitlist.",
    "taken": "Sorry, this appointment has already been taken by someone else. You stay on the waitlist.",
    "expired": "Sorry, this offer has expired. You stay on the waitlist.",
    "unavailable": "Sorry, this appointment can no longer be booked online. Please call the practice.",
}


# The page is sent with `Referrer-Policy: no-referrer` (the token is in its URL), so browsers post
# its form with `Origin: null`, which Django's CSRF check refuses. There is no session to protect:
# the 256-bit token is the only credential, so the view is CSRF-exempt.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def waitlist_offer_respond_view(request: HttpRequest, token: str) -> HttpResponse:
    practice_id = wl.offer_practice_id_for_token(token)
    if practice_id is None:
        raise Http404("No such offer.")
    with practice_scope(practice_id) as practice:
        outcome = None
        if request.method == "POST":
            action = request.POST.get("action")
            if action == "accept":
                outcome = wl.waitlist_offer_accept(token=token)
            elif action == "decline":
                outcome = wl.waitlist_offer_decline(token=token)
            else:
                return HttpResponse("Choose accept or decline.", status=400)
        offer = outcome.offer if outcome else wl.waitlist_offer_by_token(token)
        if offer is None:
            raise Http404("No such offer.")
        result = _current_result(offer) if outcome is None else outcome.result
        zone = wl.slot_zone(location=offer.location, clinician=offer.clinician)
        context = {
            "practice_name": practice.name,
            "starts_at": timezone.localtime(offer.starts_at, zone),
            "ends_at": timezone.localtime(offer.ends_at, zone),
            "clinician_name": offer.clinician.user.display_name,
            "location_name": offer.location.name if offer.location else "",
            "result": result,
            "message": OUTCOME_MESSAGES.get(result, ""),
            "expires_at": timezone.localtime(offer.expires_at, zone),
        }
        with timezone.override(zone):
            response = render(request, "scheduling/waitlist/offer_respond.html", context)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _current_result(offer) -> str:
    """What a GET shows: open (the buttons), or why the offer is closed."""
    from scheduling.models import WaitlistOffer

    if offer.status == WaitlistOffer.Status.SENT:
        if offer.expires_at <= timezone.now() or offer.starts_at <= timezone.now():
            return "expired"
        if WaitlistOffer.objects.filter(
            freed_appointment_id=offer.freed_appointment_id, status=WaitlistOffer.Status.ACCEPTED
        ).exists():
            return "taken"
        return "open"
    return {"accepted": "accepted", "declined": "declined", "expired": "expired"}.get(offer.status, "taken")
