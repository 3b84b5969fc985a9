"""Writes for the practice's scheduling catalogue: appointment types and rooms.

Kept beside scheduling/services.py (the core area's file) by the calendar area; same house rules:
keyword-only, atomic, same-practice checks, DomainError for rule violations (the audit row is
written by the auditlog registration in scheduling/apps.py).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from practice.errors import DomainError
from practice.models import Location, Membership
from practice.permissions import Perm
from scheduling.models import AppointmentType, Room

TYPE_FIELDS = (
    "name",
    "duration_minutes",
    "default_service_code",
    "modality",
    "color",
    "is_group",
    "max_attendees",
    "new_patient_only",
    "is_bookable_online",
    "is_active",
)
ROOM_FIELDS = ("location", "name", "capacity", "is_active")


def _require(by: Membership) -> None:
    if not by.is_active or not by.has_perm(Perm.PRACTICE_MANAGE_SETTINGS):
        raise DomainError("Your role does not allow this.", code="forbidden")


def _known(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise DomainError(f"Unknown fields: {', '.join(sorted(unknown))}.")


def _check_type(appointment_type: AppointmentType) -> None:
    if appointment_type.is_group and appointment_type.max_attendees < 2:
        raise DomainError("A group type takes at least 2 patients.", field="max_attendees")
    if not appointment_type.is_group:
        appointment_type.max_attendees = 1


def _save(obj: Any, *, field: str, message: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise DomainError(message, field=field) from exc


@transaction.atomic
def appointment_type_create(*, by: Membership, **fields: Any) -> AppointmentType:
    _require(by)
    _known(fields, TYPE_FIELDS)
    appointment_type = AppointmentType(practice_id=by.practice_id, **fields)
    _check_type(appointment_type)
    _save(appointment_type, field="name", message="A type with this name exists already.")
    return appointment_type


@transaction.atomic
def appointment_type_update(*, appointment_type: AppointmentType, by: Membership, **fields: Any) -> AppointmentType:
    _require(by)
    _known(fields, TYPE_FIELDS)
    if appointment_type.practice_id != by.practice_id:
        raise DomainError("Not found.", code="not_found")
    appointment_type = AppointmentType.objects.select_for_update().get(pk=appointment_type.pk)
    for name, value in fields.items():
        setattr(appointment_type, name, value)
    _check_type(appointment_type)
    _save(appointment_type, field="name", message="A type with this name exists already.")
    return appointment_type


def _check_location(by: Membership, location: Location | None) -> None:
    if location is not None and location.practice_id != by.practice_id:
        raise DomainError("Not found.", code="not_found")


@transaction.atomic
def room_create(*, by: Membership, location: Location, **fields: Any) -> Room:
    _require(by)
    _known(fields, ROOM_FIELDS)
    _check_location(by, location)
    room = Room(practice_id=by.practice_id, location=location, **fields)
    _save(room, field="name", message="This location has a room with this name already.")
    return room


@transaction.atomic
def room_update(*, room: Room, by: Membership, **fields: Any) -> Room:
    _require(by)
    _known(fields, ROOM_FIELDS)
    if room.practice_id != by.practice_id:
        raise DomainError("Not found.", code="not_found")
    _check_location(by, fields.get("location"))
    room = Room.objects.select_for_update().get(pk=room.pk)
    for name, value in fields.items():
        setattr(room, name, value)
    _save(room, field="name", message="This location has a room with this name already.")
    return room
