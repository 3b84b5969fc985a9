"""The waitlist: entries (services and selectors), matching a freed slot to entries, and offers.

When an appointment is cancelled, `waitlist_offer_freed_slot` (run by a Celery task) offers the
freed slot to the best-matching WAITING entries: one WaitlistOffer each, a secret link sent by SMS
or email. The first patient to accept gets the slot (offers of one slot are locked together with
SELECT ... FOR UPDATE, so two simultaneous acceptances cannot both book); the others are told it
is taken. Offers expire after SchedulingSettings.waitlist_offer_minutes; expired and declined
offers make room for the next matches.

Only the sha256 of an offer token is stored; the raw token exists in the patient's message only.
Messages carry the date, time and clinician's name, nothing else.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinical.models import CommunicationConsent, Patient
from practice.errors import DomainError
from practice.models import Location, Membership
from scheduling.models import (
    Appointment,
    AppointmentType,
    Attendee,
    SchedulingSettings,
    WaitlistEntry,
    WaitlistOffer,
)

logger = logging.getLogger(__name__)

# How many entries one freed slot is offered to at a time.
OFFER_BATCH_SIZE = 3


class SlotLike(Protocol):
    """What matching needs of a slot (scheduling.selectors.Slot fits, so does FreedSlot)."""

    clinician: Membership
    location: Location | None
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class FreedSlot:
    clinician: Membership
    location: Location | None
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, appointment: Appointment) -> FreedSlot:
        return cls(appointment.clinician, appointment.location, appointment.starts_at, appointment.ends_at)


@dataclass(frozen=True)
class OfferOutcome:
    """What happened when a patient answered an offer: accepted, declined, taken, expired."""

    result: str
    offer: WaitlistOffer


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def slot_zone(*, location: Location | None, clinician: Membership) -> ZoneInfo:
    """A slot's wall-clock zone: its location's, else the practice's."""
    return ZoneInfo(location.timezone if location else clinician.practice.timezone)


# --- Selectors ---------------------------------------------------------------------------------


def waitlist_list(
    *,
    visible_patients: QuerySet[Patient] | None = None,
    statuses: Sequence[str] = (WaitlistEntry.Status.WAITING, WaitlistEntry.Status.OFFERED),
    clinician: Membership | None = None,
    appointment_type: AppointmentType | None = None,
    location: Location | None = None,
    priority: int | None = None,
) -> QuerySet[WaitlistEntry]:
    """Entries by priority, then the longest waiting first. `clinician` keeps entries that accept
    that clinician (including "any clinician")."""
    qs = (
        WaitlistEntry.objects.filter(status__in=list(statuses))
        .select_related("patient", "appointment_type", "location", "added_by__user")
        .prefetch_related("clinicians__user")
        .order_by("priority", "created_at", "id")
    )
    if visible_patients is not None:
        qs = qs.filter(patient__in=visible_patients)
    if clinician is not None:
        any_clinician = ~Q(pk__in=WaitlistEntry.clinicians.through.objects.values("waitlistentry_id"))
        qs = qs.filter(Q(clinicians=clinician) | any_clinician).distinct()
    if appointment_type is not None:
        qs = qs.filter(appointment_type=appointment_type)
    if location is not None:
        qs = qs.filter(Q(location=location) | Q(location__isnull=True))
    if priority is not None:
        qs = qs.filter(priority=priority)
    return qs


def waitlist_entry_get(*, entry_id: object) -> WaitlistEntry:
    return (
        WaitlistEntry.objects.select_related("patient", "appointment_type", "location", "added_by__user")
        .prefetch_related("clinicians")
        .get(public_id=entry_id)
    )


def waitlist_entry_offers(*, entry: WaitlistEntry) -> QuerySet[WaitlistOffer]:
    return entry.offers.select_related("clinician__user", "location").order_by("-created_at")


def _fits(entry: WaitlistEntry, slot: SlotLike, zone: ZoneInfo) -> bool:
    local_start = slot.starts_at.astimezone(zone)
    minutes = entry.appointment_type.duration_minutes
    local_end = (slot.starts_at + timedelta(minutes=minutes)).astimezone(zone)
    if slot.starts_at + timedelta(minutes=minutes) > slot.ends_at:
        return False
    if entry.weekdays and local_start.weekday() not in entry.weekdays:
        return False
    if entry.earliest_time and local_start.time() < entry.earliest_time:
        return False
    # the session must end by the latest time, on the same local day
    return not (entry.latest_time and (local_end.date() != local_start.date() or local_end.time() > entry.latest_time))


def waitlist_matches(
    slot: SlotLike, *, exclude_entry_ids: Iterable[int] = (), limit: int | None = None
) -> list[WaitlistEntry]:
    """WAITING entries that would take `slot`, best first (priority, then the oldest).

    An entry matches when it accepts the slot's clinician (no clinicians listed = any), its
    location (none = any), the slot's weekday and time window in the location's zone, and its
    appointment type fits in the slot. Patients already booked at that time are left out.
    """
    clinician = slot.clinician
    zone = slot_zone(location=slot.location, clinician=clinician)
    any_clinician = ~Q(pk__in=WaitlistEntry.clinicians.through.objects.values("waitlistentry_id"))
    busy_patients = Attendee.objects.filter(
        status__in=Attendee.ACTIVE_STATUSES, starts_at__lt=slot.ends_at, ends_at__gt=slot.starts_at
    ).values("patient_id")
    qs = (
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING, practice_id=clinician.practice_id)
        .filter(Q(clinicians=clinician) | any_clinician)
        .exclude(pk__in=list(exclude_entry_ids))
        .exclude(patient_id__in=busy_patients)
        .exclude(patient__status=Patient.Status.DISCHARGED)
        .select_related("appointment_type", "patient")
        .distinct()
        .order_by("priority", "created_at", "id")
    )
    qs = qs.filter(Q(location__isnull=True) | Q(location_id=slot.location.pk if slot.location else None))
    matches = [entry for entry in qs if entry.appointment_type.is_active and _fits(entry, slot, zone)]
    return matches[:limit] if limit is not None else matches


# --- Entry services -----------------------------------------------------------------------------


def _clean_entry_fields(
    *,
    practice_id: int,
    patient: Patient,
    appointment_type: AppointmentType,
    clinicians: Sequence[Membership],
    location: Location | None,
    weekdays: Sequence[int],
    earliest_time: time | None,
    latest_time: time | None,
    priority: int,
) -> list[int]:
    related = [patient, appointment_type, *clinicians, *([location] if location else [])]
    if any(obj.practice_id != practice_id for obj in related):
        raise DomainError("That belongs to another practice.", code="not_found")
    if earliest_time and latest_time and earliest_time >= latest_time:
        raise DomainError("The earliest time must be before the latest time.", field="latest_time")
    days = sorted({int(d) for d in weekdays})
    if any(d < 0 or d > 6 for d in days):
        raise DomainError("Weekdays are 0 (Monday) to 6 (Sunday).", field="weekdays")
    if not 1 <= priority <= 5:
        raise DomainError("Priority is 1 (highest) to 5.", field="priority")
    return days


@transaction.atomic
def waitlist_entry_create(
    *,
    by: Membership,
    patient: Patient,
    appointment_type: AppointmentType,
    clinicians: Sequence[Membership] = (),
    location: Location | None = None,
    weekdays: Sequence[int] = (),
    earliest_time: time | None = None,
    latest_time: time | None = None,
    priority: int = 3,
    notes: str = "",
) -> WaitlistEntry:
    days = _clean_entry_fields(
        practice_id=by.practice_id,
        patient=patient,
        appointment_type=appointment_type,
        clinicians=clinicians,
        location=location,
        weekdays=weekdays,
        earliest_time=earliest_time,
        latest_time=latest_time,
        priority=priority,
    )
    if WaitlistEntry.objects.filter(
        patient=patient,
        appointment_type=appointment_type,
        status__in=[WaitlistEntry.Status.WAITING, WaitlistEntry.Status.OFFERED],
    ).exists():
        raise DomainError("This patient is already waiting for this appointment type.", field="patient")
    entry = WaitlistEntry.objects.create(
        practice_id=by.practice_id,
        patient=patient,
        appointment_type=appointment_type,
        location=location,
        weekdays=days,
        earliest_time=earliest_time,
        latest_time=latest_time,
        priority=priority,
        notes=notes,
        added_by=by,
    )
    entry.clinicians.set(clinicians)
    return entry


@transaction.atomic
def waitlist_entry_update(
    *,
    entry: WaitlistEntry,
    by: Membership,
    appointment_type: AppointmentType,
    clinicians: Sequence[Membership] = (),
    location: Location | None = None,
    weekdays: Sequence[int] = (),
    earliest_time: time | None = None,
    latest_time: time | None = None,
    priority: int = 3,
    notes: str = "",
    is_removed: bool = False,
) -> WaitlistEntry:
    """Change what an entry accepts; `is_removed` takes it off the list (or back onto it)."""
    if by.practice_id != entry.practice_id:
        raise DomainError("No such entry.", code="not_found")
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    days = _clean_entry_fields(
        practice_id=entry.practice_id,
        patient=entry.patient,
        appointment_type=appointment_type,
        clinicians=clinicians,
        location=location,
        weekdays=weekdays,
        earliest_time=earliest_time,
        latest_time=latest_time,
        priority=priority,
    )
    if entry.status == WaitlistEntry.Status.BOOKED:
        raise DomainError("This entry was booked from the waitlist; add a new entry instead.")
    entry.appointment_type = appointment_type
    entry.location = location
    entry.weekdays = days
    entry.earliest_time = earliest_time
    entry.latest_time = latest_time
    entry.priority = priority
    entry.notes = notes
    if is_removed:
        entry.status = WaitlistEntry.Status.REMOVED
        # an open offer of a removed entry can no longer be accepted
        entry.offers.filter(status=WaitlistOffer.Status.SENT).update(
            status=WaitlistOffer.Status.DECLINED, responded_at=timezone.now()
        )
    elif entry.status == WaitlistEntry.Status.REMOVED:
        entry.status = WaitlistEntry.Status.WAITING
    entry.save()
    entry.clinicians.set(clinicians)
    return entry


# --- Offers -------------------------------------------------------------------------------------


def _offer_minutes(practice_id: int) -> int:
    row = SchedulingSettings.objects.filter(practice_id=practice_id).first()
    return row.waitlist_offer_minutes if row else SchedulingSettings._meta.get_field("waitlist_offer_minutes").default


def _slot_is_free(appointment: Appointment) -> bool:
    """No active appointment of the clinician overlaps the freed slot."""
    return not (
        Appointment.objects.filter(
            clinician_id=appointment.clinician_id,
            status__in=Appointment.ACTIVE_STATUSES,
            starts_at__lt=appointment.ends_at,
            ends_at__gt=appointment.starts_at,
        )
        .exclude(pk=appointment.pk)
        .exists()
    )


def _preferred_channel(patient: Patient) -> str:
    """SMS when the patient's newest SMS consent is a yes and there is a number; otherwise email
    (message_send checks consent again and records a suppressed row if there is none)."""
    latest = (
        CommunicationConsent.objects.filter(patient=patient, channel=CommunicationConsent.Channel.SMS)
        .order_by("-recorded_at", "-id")
        .first()
    )
    if latest is not None and latest.is_granted and patient.phone:
        return "sms"
    return "email"


def _slot_context(offer: WaitlistOffer) -> dict[str, str]:
    zone = slot_zone(location=offer.location, clinician=offer.clinician)
    local = offer.starts_at.astimezone(zone)
    return {
        "weekday": local.strftime("%A"),
        "date": local.strftime("%B %-d, %Y"),
        "time": local.strftime("%-I:%M %p"),
        "timezone": local.strftime("%Z"),
        "clinician": offer.clinician.user.display_name,
    }


def _notify(*, offer: WaitlistOffer, template_key: str, extra: dict[str, str], key: str) -> None:
    """One message to the entry's patient: date, time, clinician (and the offer link) only."""
    from notifications.services import message_send

    patient = offer.entry.patient
    message_send(
        practice=offer.entry.practice,
        patient=patient,
        channel=_preferred_channel(patient),
        template_key=template_key,
        context={**_slot_context(offer), **extra},
        idempotency_key=key,
    )


def offer_link(token: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/offers/{token}/"


def _make_offers(appointment: Appointment, entries: Sequence[WaitlistEntry]) -> list[WaitlistOffer]:
    expires_at = timezone.now() + timedelta(minutes=_offer_minutes(appointment.practice_id))
    offers = []
    for entry in entries:
        token = secrets.token_urlsafe(32)
        offer = WaitlistOffer.objects.create(
            practice_id=appointment.practice_id,
            entry=entry,
            freed_appointment=appointment,
            clinician=appointment.clinician,
            location=appointment.location,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            token_hash=token_hash(token),
            expires_at=expires_at,
        )
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.OFFERED, updated_at=timezone.now())
        _notify(
            offer=offer,
            template_key="waitlist_offer",
            extra={"link": offer_link(token)},
            key=f"waitlist-offer-{offer.public_id}",
        )
        offers.append(offer)
    return offers


def _lock_freed(appointment_id: int) -> Appointment | None:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("clinician__user", "clinician__practice", "location", "practice")
        .filter(pk=appointment_id)
        .first()
    )


def _top_up(appointment: Appointment) -> list[WaitlistOffer]:
    """Offer the freed slot to the next matches so that up to OFFER_BATCH_SIZE offers are open.
    Nothing when it was accepted, is in the past, or was booked again."""
    offers = list(WaitlistOffer.objects.filter(freed_appointment=appointment))
    if any(o.status == WaitlistOffer.Status.ACCEPTED for o in offers):
        return []
    if appointment.is_active or appointment.starts_at <= timezone.now() or not _slot_is_free(appointment):
        return []
    now = timezone.now()
    open_count = sum(1 for o in offers if o.status == WaitlistOffer.Status.SENT and o.expires_at > now)
    wanted = OFFER_BATCH_SIZE - open_count
    if wanted <= 0:
        return []
    entries = waitlist_matches(FreedSlot.of(appointment), exclude_entry_ids=[o.entry_id for o in offers], limit=wanted)
    return _make_offers(appointment, entries)


@transaction.atomic
def waitlist_offer_freed_slot(*, appointment_id: int) -> list[WaitlistOffer]:
    """Offer a cancelled appointment's slot to the top matches. One batch per freed appointment:
    once any offer exists for it, a second call does nothing (the appointment row is locked first,
    so two workers cannot both send a batch)."""
    appointment = _lock_freed(appointment_id)
    if appointment is None:
        return []
    if WaitlistOffer.objects.filter(freed_appointment=appointment).exists():
        return []
    return _top_up(appointment)


@transaction.atomic
def waitlist_offer_next(*, appointment_id: int) -> list[WaitlistOffer]:
    """After offers expired or were declined: offer the slot to the next matches."""
    appointment = _lock_freed(appointment_id)
    if appointment is None:
        return []
    return _top_up(appointment)


def _lock_offers_of(offer: WaitlistOffer) -> dict[int, WaitlistOffer]:
    locked = (
        WaitlistOffer.objects.select_for_update(of=("self",))
        .filter(freed_appointment_id=offer.freed_appointment_id)
        .select_related("entry__patient", "entry__appointment_type", "entry__added_by__practice", "entry__practice")
        .select_related("freed_appointment")
        .select_related("clinician__user", "clinician__practice", "location")
        .order_by("pk")
    )
    return {o.pk: o for o in locked}


def _release_entry(entry_id: int) -> None:
    """An entry whose offers are all closed waits again (unless booked or removed)."""
    if not WaitlistOffer.objects.filter(entry_id=entry_id, status=WaitlistOffer.Status.SENT).exists():
        WaitlistEntry.objects.filter(pk=entry_id, status=WaitlistEntry.Status.OFFERED).update(
            status=WaitlistEntry.Status.WAITING, updated_at=timezone.now()
        )


def _close_others_as_taken(offers: dict[int, WaitlistOffer], *, except_pk: int | None) -> None:
    now = timezone.now()
    for other in offers.values():
        if other.pk == except_pk or other.status != WaitlistOffer.Status.SENT:
            continue
        WaitlistOffer.objects.filter(pk=other.pk, status=WaitlistOffer.Status.SENT).update(
            status=WaitlistOffer.Status.TAKEN, responded_at=now, updated_at=now
        )
        other.status = WaitlistOffer.Status.TAKEN
        _release_entry(other.entry_id)
        _notify(offer=other, template_key="waitlist_taken", extra={}, key=f"waitlist-taken-{other.public_id}")


def _booker(entry: WaitlistEntry) -> Membership:
    """Who the booking is recorded as made by. The patient acted, not staff: it is the member who
    put them on the waitlist, or (if they left or lost the role) the practice's longest-standing
    active scheduler who sees every patient."""
    from practice.permissions import Perm

    if (
        entry.added_by.is_active
        and entry.added_by.has_perm(Perm.SCHEDULE_MANAGE)
        and entry.added_by.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS)
    ):
        return entry.added_by
    for member in Membership.objects.filter(is_active=True).select_related("practice").order_by("created_at", "id"):
        if member.has_perm(Perm.SCHEDULE_MANAGE) and member.has_perm(Perm.PATIENT_VIEW_ALL_PATIENTS):
            return member
    return entry.added_by


def waitlist_offer_by_token(token: str) -> WaitlistOffer | None:
    """The offer a token opens, inside the active practice scope."""
    return (
        WaitlistOffer.objects.select_related("clinician__user", "location", "entry")
        .filter(token_hash=token_hash(token))
        .first()
    )


def offer_practice_id_for_token(token: str) -> int | None:
    """Which practice an offer token belongs to, read BEFORE any scope exists.

    The public offer page has no practice in its URL and no signed-in user: the token is the only
    credential. Its hash is unique across all practices, so this one lookup uses the unscoped
    manager; everything after it runs inside that practice's scope.
    """
    if not token or len(token) > 200:
        return None
    return WaitlistOffer.all_objects.filter(token_hash=token_hash(token)).values_list("practice_id", flat=True).first()


@transaction.atomic
def waitlist_offer_accept(*, token: str) -> OfferOutcome | None:
    """The patient accepts an offer. First acceptance wins: every offer of the freed slot is locked
    (SELECT ... FOR UPDATE), so of two simultaneous acceptances the second sees the first."""
    from scheduling.services import AppointmentConflict, appointment_book

    found = waitlist_offer_by_token(token)
    if found is None:
        return None
    offers = _lock_offers_of(found)
    offer = offers[found.pk]
    now = timezone.now()
    if offer.status == WaitlistOffer.Status.ACCEPTED:
        return OfferOutcome("accepted", offer)
    if offer.status == WaitlistOffer.Status.TAKEN or any(
        o.status == WaitlistOffer.Status.ACCEPTED for o in offers.values()
    ):
        return OfferOutcome("taken", offer)
    if offer.status == WaitlistOffer.Status.DECLINED:
        return OfferOutcome("declined", offer)
    if offer.status == WaitlistOffer.Status.EXPIRED or offer.expires_at <= now or offer.starts_at <= now:
        if offer.status == WaitlistOffer.Status.SENT:
            WaitlistOffer.objects.filter(pk=offer.pk).update(status=WaitlistOffer.Status.EXPIRED, updated_at=now)
            offer.status = WaitlistOffer.Status.EXPIRED
            _release_entry(offer.entry_id)
        return OfferOutcome("expired", offer)

    entry = offer.entry
    freed = offer.freed_appointment
    modality = entry.appointment_type.modality
    is_telehealth = modality == AppointmentType.Modality.TELEHEALTH or (
        modality == AppointmentType.Modality.EITHER and freed.is_telehealth
    )
    try:
        appointment = appointment_book(
            by=_booker(entry),
            clinician=offer.clinician,
            appointment_type=entry.appointment_type,
            starts_at=offer.starts_at,
            patients=[entry.patient],
            location=offer.location,
            is_telehealth=is_telehealth,
            telehealth_url=freed.telehealth_url if is_telehealth else "",
            admin_note="Booked from the waitlist",
        )
    except AppointmentConflict:
        # Someone booked the time some other way: every open offer of the slot is closed.
        _close_others_as_taken(offers, except_pk=None)
        offer.status = WaitlistOffer.Status.TAKEN
        return OfferOutcome("taken", offer)
    except DomainError:
        # e.g. the type was retired or the patient discharged since: staff must book it by hand
        logger.warning("waitlist offer %s could not be booked", offer.public_id)
        return OfferOutcome("unavailable", offer)
    WaitlistOffer.objects.filter(pk=offer.pk).update(
        status=WaitlistOffer.Status.ACCEPTED, responded_at=now, booked_appointment=appointment, updated_at=now
    )
    offer.status = WaitlistOffer.Status.ACCEPTED
    offer.booked_appointment = appointment
    WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.BOOKED, updated_at=now)
    # the patient may have had offers of other slots out: they are no longer needed
    WaitlistOffer.objects.filter(entry_id=entry.pk, status=WaitlistOffer.Status.SENT).exclude(pk=offer.pk).update(
        status=WaitlistOffer.Status.DECLINED, responded_at=now, updated_at=now
    )
    _close_others_as_taken(offers, except_pk=offer.pk)
    return OfferOutcome("accepted", offer)


@transaction.atomic
def waitlist_offer_decline(*, token: str) -> OfferOutcome | None:
    """The patient says no: the entry waits again, and the slot goes to the next match."""
    found = waitlist_offer_by_token(token)
    if found is None:
        return None
    offers = _lock_offers_of(found)
    offer = offers[found.pk]
    if offer.status != WaitlistOffer.Status.SENT:
        result = {"accepted": "accepted", "declined": "declined", "expired": "expired"}.get(offer.status, "taken")
        return OfferOutcome(result, offer)
    now = timezone.now()
    WaitlistOffer.objects.filter(pk=offer.pk).update(
        status=WaitlistOffer.Status.DECLINED, responded_at=now, updated_at=now
    )
    offer.status = WaitlistOffer.Status.DECLINED
    _release_entry(offer.entry_id)
    waitlist_offer_next(appointment_id=offer.freed_appointment_id)
    return OfferOutcome("declined", offer)


def waitlist_offers_expire() -> int:
    """Expire the open offers past their time (a conditional UPDATE claims each one, so two runs
    never both act on it), then offer those slots to the next matches. Returns how many expired."""
    now = timezone.now()
    expired = 0
    freed_ids: set[int] = set()
    for offer_id, entry_id, freed_id in WaitlistOffer.objects.filter(
        status=WaitlistOffer.Status.SENT, expires_at__lte=now
    ).values_list("pk", "entry_id", "freed_appointment_id"):
        with transaction.atomic():
            claimed = WaitlistOffer.objects.filter(pk=offer_id, status=WaitlistOffer.Status.SENT).update(
                status=WaitlistOffer.Status.EXPIRED, updated_at=now
            )
            if claimed:
                expired += 1
                _release_entry(entry_id)
                freed_ids.add(freed_id)
    for freed_id in sorted(freed_ids):
        waitlist_offer_next(appointment_id=freed_id)
    return expired
