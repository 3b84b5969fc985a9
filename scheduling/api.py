"""REST API of scheduling (/api/v1/): appointment types, rooms, availability rules and
exceptions, appointments (book, reschedule, cancel, status, check-in, attendee status), open slots
and the waitlist.

Same rules as the pages: SCHEDULE_VIEW to read, SCHEDULE_MANAGE to change (appointment types and
rooms: PRACTICE_MANAGE_SETTINGS, as their settings pages); the calendar shows every clinician's
appointments to whoever may view the schedule, and so does the list here (patients by id only);
a patient filter, a booking and the waitlist only reach patients the caller may see
(clinical.access). Ids are public_ids looked up through the scoped managers (another practice's
object is a 404); writes go through scheduling.services / services_catalog / waitlist; reads of
appointments and waitlist entries write access events. A booking or move that collides answers
409 with the conflicting appointment's id. Calendar feeds have no endpoint: each is a personal
secret URL managed on the clinician's own page.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from clinical import access
from clinical.models import Patient
from practice.api_auth import PracticeScopedAPIMixin
from practice.audit import access_record
from practice.models import AccessEvent, Location, Membership
from practice.permissions import Perm
from practice.serializers import ErrorOut
from scheduling import selectors, services, services_catalog
from scheduling import serializers as s
from scheduling import waitlist as wl
from scheduling.models import (
    Appointment,
    AppointmentType,
    Attendee,
    AvailabilityException,
    AvailabilityRule,
    Room,
    WaitlistEntry,
)

ERRORS = {
    400: OpenApiResponse(ErrorOut, description="Invalid input; error.fields names the fields"),
    401: OpenApiResponse(ErrorOut, description="Not authenticated"),
    403: OpenApiResponse(ErrorOut, description="Not allowed for this role (or outside the API key's scopes)"),
    404: OpenApiResponse(ErrorOut, description="Not found (or in another practice)"),
    409: OpenApiResponse(ErrorOut, description="A rule refused the change (e.g. an invalid status transition)"),
}
_CONFLICT = OpenApiResponse(
    s.ConflictOut, description="Conflict: error.conflicting_appointment names the appointment in the way."
)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


_READ = _errors(400, 401, 403)
_READ_ONE = _errors(401, 403, 404)
_WRITE = _errors(400, 401, 403, 404, 409)


def _conflict_response(exc: services.AppointmentConflict) -> Response:
    conflicting = exc.conflicting
    body = {
        "error": {
            "status": 409,
            "code": exc.code,
            "message": exc.message,
            "fields": {},
            "conflicting_appointment": str(conflicting.public_id) if conflicting else None,
            "conflicts": [
                {"occurrence_start": when.isoformat(), "appointment": str(a.public_id) if a else None}
                for when, a in exc.conflicts
            ],
        }
    }
    return Response(body, status=status.HTTP_409_CONFLICT)


class _SchedulingViewSet(PracticeScopedAPIMixin, viewsets.GenericViewSet):
    lookup_field = "public_id"
    api_scope = "scheduling"

    @property
    def membership(self) -> Membership:
        return self.request.membership

    def parse(self, serializer_class: type, data: Any) -> dict[str, Any]:
        form = serializer_class(data=data)
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    def query(self, serializer_class: type) -> dict[str, Any]:
        return self.parse(serializer_class, self.request.query_params.dict())

    @staticmethod
    def lookup(model: type, public_id: Any, *, what: str, **filters: Any) -> Any:
        """A related row by public_id in the current practice (scoped manager), or 404."""
        if public_id is None:
            return None
        obj = model.objects.filter(public_id=public_id, **filters).first()
        if obj is None:
            raise NotFound(f"No such {what}.")
        return obj

    def visible_patients(self) -> QuerySet[Patient]:
        return access.patients_visible_to(self.membership)

    def paginated(self, queryset: Any, serializer_class: type | None = None) -> Response:
        page = self.paginate_queryset(queryset)
        out = serializer_class or self.get_serializer_class()
        return self.get_paginated_response(out(page, many=True).data)

    def patch_data(self, serializer_class: type) -> dict[str, Any]:
        form = serializer_class(data=self.request.data, partial=True)
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)


@extend_schema_view(
    list=extend_schema(
        parameters=[s.AppointmentTypeFilterIn], responses={200: s.AppointmentTypeOut(many=True), **_READ}
    ),
    retrieve=extend_schema(responses={200: s.AppointmentTypeOut, **_READ_ONE}),
    create=extend_schema(request=s.AppointmentTypeIn, responses={201: s.AppointmentTypeOut, **_WRITE}),
    partial_update=extend_schema(request=s.AppointmentTypeIn, responses={200: s.AppointmentTypeOut, **_WRITE}),
)
class AppointmentTypeViewSet(_SchedulingViewSet):
    """The practice's appointment types (durations, modality, group size). Adding or changing one
    needs the practice-settings right, as on the settings page."""

    exposes_model = AppointmentType
    serializer_class = s.AppointmentTypeOut
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.PRACTICE_MANAGE_SETTINGS,
        "partial_update": Perm.PRACTICE_MANAGE_SETTINGS,
    }

    def get_queryset(self) -> QuerySet[AppointmentType]:
        if getattr(self, "swagger_fake_view", False):
            return AppointmentType.all_objects.none()
        return AppointmentType.objects.order_by("name", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.AppointmentTypeFilterIn)
        queryset = self.get_queryset()
        if filters.get("is_active") is not None:
            queryset = queryset.filter(is_active=filters["is_active"])
        return self.paginated(queryset)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.AppointmentTypeIn, request.data)
        appointment_type = services_catalog.appointment_type_create(by=self.membership, **data)
        return Response(s.AppointmentTypeOut(appointment_type).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        appointment_type = self.get_object()
        data = self.patch_data(s.AppointmentTypeIn)
        appointment_type = services_catalog.appointment_type_update(
            appointment_type=appointment_type, by=self.membership, **data
        )
        return Response(s.AppointmentTypeOut(appointment_type).data)


@extend_schema_view(
    list=extend_schema(parameters=[s.RoomFilterIn], responses={200: s.RoomOut(many=True), **_READ}),
    retrieve=extend_schema(responses={200: s.RoomOut, **_READ_ONE}),
    create=extend_schema(request=s.RoomIn, responses={201: s.RoomOut, **_WRITE}),
    partial_update=extend_schema(request=s.RoomUpdateIn, responses={200: s.RoomOut, **_WRITE}),
)
class RoomViewSet(_SchedulingViewSet):
    """Rooms at the practice's locations. Adding or changing one needs the practice-settings right."""

    exposes_model = Room
    serializer_class = s.RoomOut
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.PRACTICE_MANAGE_SETTINGS,
        "partial_update": Perm.PRACTICE_MANAGE_SETTINGS,
    }

    def get_queryset(self) -> QuerySet[Room]:
        if getattr(self, "swagger_fake_view", False):
            return Room.all_objects.none()
        return Room.objects.select_related("location").order_by("location__name", "name", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.RoomFilterIn)
        queryset = self.get_queryset()
        if filters.get("location"):
            queryset = queryset.filter(location=self.lookup(Location, filters["location"], what="location"))
        if filters.get("is_active") is not None:
            queryset = queryset.filter(is_active=filters["is_active"])
        return self.paginated(queryset)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.RoomIn, request.data)
        location = self.lookup(Location, data.pop("location"), what="location")
        room = services_catalog.room_create(by=self.membership, location=location, **data)
        return Response(s.RoomOut(room).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        room = self.get_object()
        data = self.patch_data(s.RoomUpdateIn)
        if "location" in data:
            data["location"] = self.lookup(Location, data["location"], what="location")
        room = services_catalog.room_update(room=room, by=self.membership, **data)
        return Response(s.RoomOut(room).data)


@extend_schema_view(
    list=extend_schema(parameters=[s.AvailabilityFilterIn], responses={200: s.AvailabilityRuleOut(many=True), **_READ}),
    retrieve=extend_schema(responses={200: s.AvailabilityRuleOut, **_READ_ONE}),
    create=extend_schema(request=s.AvailabilityRuleIn, responses={201: s.AvailabilityRuleOut, **_WRITE}),
    partial_update=extend_schema(request=s.AvailabilityRuleUpdateIn, responses={200: s.AvailabilityRuleOut, **_WRITE}),
    destroy=extend_schema(responses={204: OpenApiResponse(description="Removed"), **_errors(401, 403, 404, 409)}),
)
class AvailabilityRuleViewSet(_SchedulingViewSet):
    """Clinicians' weekly working hours (location wall clock). No overlapping blocks for one
    clinician on a weekday (400 naming start_time)."""

    exposes_model = AvailabilityRule
    serializer_class = s.AvailabilityRuleOut
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.SCHEDULE_MANAGE,
        "partial_update": Perm.SCHEDULE_MANAGE,
        "destroy": Perm.SCHEDULE_MANAGE,
    }

    def get_queryset(self) -> QuerySet[AvailabilityRule]:
        if getattr(self, "swagger_fake_view", False):
            return AvailabilityRule.all_objects.none()
        return selectors.availability_rules()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.AvailabilityFilterIn)
        clinicians = None
        if filters.get("clinician"):
            clinicians = [self.lookup(Membership, filters["clinician"], what="clinician")]
        queryset = selectors.availability_rules(clinicians=clinicians)
        if filters.get("location"):
            queryset = queryset.filter(location=self.lookup(Location, filters["location"], what="location"))
        return self.paginated(queryset)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.AvailabilityRuleIn, request.data)
        rule = services.availability_rule_create(
            by=self.membership,
            clinician=self.lookup(Membership, data["clinician"], what="clinician", is_active=True),
            location=self.lookup(Location, data["location"], what="location"),
            weekday=data["weekday"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            valid_from=data.get("valid_from"),
            valid_until=data.get("valid_until"),
        )
        return Response(s.AvailabilityRuleOut(rule).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        data = self.patch_data(s.AvailabilityRuleUpdateIn)
        if "location" in data:
            data["location"] = self.lookup(Location, data["location"], what="location")
        rule = services.availability_rule_update(rule=rule, by=self.membership, **data)
        return Response(s.AvailabilityRuleOut(rule).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.availability_rule_delete(rule=self.get_object(), by=self.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        parameters=[s.AvailabilityExceptionFilterIn], responses={200: s.AvailabilityExceptionOut(many=True), **_READ}
    ),
    retrieve=extend_schema(responses={200: s.AvailabilityExceptionOut, **_READ_ONE}),
    create=extend_schema(request=s.AvailabilityExceptionIn, responses={201: s.AvailabilityExceptionOut, **_WRITE}),
    partial_update=extend_schema(
        request=s.AvailabilityExceptionUpdateIn, responses={200: s.AvailabilityExceptionOut, **_WRITE}
    ),
    destroy=extend_schema(responses={204: OpenApiResponse(description="Removed"), **_errors(401, 403, 404, 409)}),
)
class AvailabilityExceptionViewSet(_SchedulingViewSet):
    """Time off (removes open slots; booked appointments stay for staff to move) and extra hours
    (adds open slots at a location), as absolute times."""

    exposes_model = AvailabilityException
    serializer_class = s.AvailabilityExceptionOut
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.SCHEDULE_MANAGE,
        "partial_update": Perm.SCHEDULE_MANAGE,
        "destroy": Perm.SCHEDULE_MANAGE,
    }

    def get_queryset(self) -> QuerySet[AvailabilityException]:
        if getattr(self, "swagger_fake_view", False):
            return AvailabilityException.all_objects.none()
        return selectors.availability_exceptions()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.AvailabilityExceptionFilterIn)
        clinicians = None
        if filters.get("clinician"):
            clinicians = [self.lookup(Membership, filters["clinician"], what="clinician")]
        queryset = selectors.availability_exceptions(
            clinicians=clinicians, start=filters.get("start"), end=filters.get("end")
        ).order_by("starts_at", "id")
        return self.paginated(queryset)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.AvailabilityExceptionIn, request.data)
        exception = services.availability_exception_create(
            by=self.membership,
            clinician=self.lookup(Membership, data["clinician"], what="clinician", is_active=True),
            kind=data["kind"],
            location=self.lookup(Location, data.get("location"), what="location"),
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data["reason"],
        )
        return Response(s.AvailabilityExceptionOut(exception).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        exception = self.get_object()
        data = self.patch_data(s.AvailabilityExceptionUpdateIn)
        if "location" in data:
            data["location"] = self.lookup(Location, data["location"], what="location")
        exception = services.availability_exception_update(exception=exception, by=self.membership, **data)
        return Response(s.AvailabilityExceptionOut(exception).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.availability_exception_delete(exception=self.get_object(), by=self.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


_MOVE = {**_WRITE, 409: _CONFLICT}


@extend_schema_view(
    list=extend_schema(parameters=[s.AppointmentFilterIn], responses={200: s.AppointmentOut(many=True), **_READ}),
    retrieve=extend_schema(responses={200: s.AppointmentOut, **_READ_ONE}),
    create=extend_schema(request=s.AppointmentIn, responses={201: s.AppointmentOut, **_MOVE}),
    reschedule=extend_schema(request=s.RescheduleIn, responses={200: s.AppointmentOut, **_MOVE}),
    cancel=extend_schema(request=s.CancelIn, responses={200: s.AppointmentOut, **_WRITE}),
    set_status=extend_schema(request=s.StatusIn, responses={200: s.AppointmentOut, **_WRITE}),
    check_in=extend_schema(request=s.CheckInIn, responses={200: s.AppointmentOut, **_WRITE}),
)
class AppointmentViewSet(_SchedulingViewSet):
    """Appointments: list by date range, clinician, patient, location or status (oldest or newest
    first); book (single, recurring, group); reschedule and cancel (scope this / following / all);
    move along the status flow; check in (everyone, or one attendee of a group)."""

    exposes_model = Appointment
    serializer_class = s.AppointmentOut
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.SCHEDULE_MANAGE,
        "reschedule": Perm.SCHEDULE_MANAGE,
        "cancel": Perm.SCHEDULE_MANAGE,
        "set_status": Perm.SCHEDULE_MANAGE,
        "check_in": Perm.SCHEDULE_MANAGE,
    }

    def get_queryset(self) -> QuerySet[Appointment]:
        if getattr(self, "swagger_fake_view", False):
            return Appointment.all_objects.none()
        return selectors.appointment_list()

    def _audited(self, appointment: Appointment, action_name: str = AccessEvent.Action.VIEW) -> None:
        patients = [a.patient for a in appointment.attendees.all()]
        access_record(
            request=self.request._request,
            action=action_name,
            target=appointment,
            patient_id=patients[0].public_id if len(patients) == 1 else None,
        )

    def _out(self, appointment: Appointment, *, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.appointment_get(public_id=appointment.public_id)
        return Response(s.AppointmentOut(fresh).data, status=code)

    def _attendee(self, appointment: Appointment, public_id: Any) -> Attendee | None:
        if public_id is None:
            return None
        attendee = next((a for a in appointment.attendees.all() if a.public_id == public_id), None)
        if attendee is None:
            raise NotFound("No such attendee at this appointment.")
        return attendee

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.AppointmentFilterIn)
        clinician = self.lookup(Membership, filters.get("clinician"), what="clinician")
        location = self.lookup(Location, filters.get("location"), what="location")
        patient = None
        if filters.get("patient"):
            patient = self.visible_patients().filter(public_id=filters["patient"]).first()
            if patient is None:
                raise NotFound("No such patient.")
        queryset = selectors.appointment_list(
            start=filters.get("start"),
            end=filters.get("end"),
            clinician=clinician,
            patient_ids=[patient.pk] if patient else None,
            status=filters.get("status"),
            location=location,
            newest_first=filters["ordering"] == "-starts_at",
        )
        access_record(
            request=request._request,
            action=AccessEvent.Action.LIST,
            object_type="scheduling.appointment",
            patient_id=patient.public_id if patient else None,
        )
        return self.paginated(queryset)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        appointment = self.get_object()
        self._audited(appointment)
        return Response(self.get_serializer(appointment).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.AppointmentIn, request.data)
        patients = list(self.visible_patients().filter(public_id__in=data["patients"]))
        if len(patients) != len(set(data["patients"])):
            raise NotFound("No such patient.")
        location = self.lookup(Location, data.get("location"), what="location")
        room = self.lookup(Room, data.get("room"), what="room")
        try:
            appointment = services.appointment_book(
                by=self.membership,
                clinician=self.lookup(Membership, data["clinician"], what="clinician", is_active=True),
                appointment_type=self.lookup(AppointmentType, data["appointment_type"], what="appointment type"),
                starts_at=data["starts_at"],
                patients=patients,
                location=location,
                room=room,
                is_telehealth=data["is_telehealth"],
                telehealth_url=data["telehealth_url"],
                admin_note=data["admin_note"],
                rrule=data.get("rrule") or None,
            )
        except services.AppointmentConflict as exc:
            return _conflict_response(exc)
        return self._out(appointment, code=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        appointment = self.get_object()
        data = self.parse(s.RescheduleIn, request.data)
        try:
            appointment = services.appointment_reschedule(
                appointment=appointment,
                by=self.membership,
                starts_at=data["starts_at"],
                ends_at=data.get("ends_at"),
                clinician=self.lookup(Membership, data.get("clinician"), what="clinician", is_active=True),
                room=self.lookup(Room, data.get("room"), what="room"),
                scope=data["scope"],
            )
        except services.AppointmentConflict as exc:
            return _conflict_response(exc)
        return self._out(appointment)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        appointment = self.get_object()
        data = self.parse(s.CancelIn, request.data)
        appointment = services.appointment_cancel(
            appointment=appointment, by=self.membership, reason=data["reason"], scope=data["scope"], late=data["late"]
        )
        return self._out(appointment)

    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        appointment = self.get_object()
        data = self.parse(s.StatusIn, request.data)
        if data["status"] == Appointment.Status.ARRIVED:
            appointment = services.appointment_check_in(appointment=appointment, by=self.membership)
        else:
            appointment = services.appointment_set_status(
                appointment=appointment, by=self.membership, status=data["status"], reason=data["reason"]
            )
        return self._out(appointment)

    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        appointment = self.get_object()
        data = self.parse(s.CheckInIn, request.data)
        appointment = services.appointment_check_in(
            appointment=appointment, by=self.membership, attendee=self._attendee(appointment, data.get("attendee"))
        )
        return self._out(appointment)


@extend_schema_view(
    set_status=extend_schema(request=s.AttendeeStatusIn, responses={200: s.AppointmentOut, **_WRITE}),
)
class AttendeeViewSet(_SchedulingViewSet):
    """One patient's attendance at a (group) appointment: confirmed, arrived, attended, cancelled
    (late inside the practice's window: the place is freed), no-show. Answers the appointment."""

    exposes_model = Attendee
    serializer_class = s.AppointmentOut
    action_perms = {"set_status": Perm.SCHEDULE_MANAGE}

    def get_queryset(self) -> QuerySet[Attendee]:
        if getattr(self, "swagger_fake_view", False):
            return Attendee.all_objects.none()
        return Attendee.objects.select_related("appointment")

    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request: Request, appointment_id: Any, attendee_id: Any) -> Response:
        attendee = self.get_queryset().filter(public_id=attendee_id, appointment__public_id=appointment_id).first()
        if attendee is None:
            raise NotFound("No such attendee at this appointment.")
        data = self.parse(s.AttendeeStatusIn, request.data)
        services.attendee_set_status(
            attendee=attendee, by=self.membership, status=data["status"], reason=data["reason"]
        )
        fresh = selectors.appointment_get(public_id=attendee.appointment.public_id)
        return Response(s.AppointmentOut(fresh).data)


@extend_schema(parameters=[s.OpenSlotsIn], responses={200: s.SlotOut(many=True), **_errors(400, 401, 403, 404)})
class OpenSlotsViewSet(_SchedulingViewSet):
    """Bookable slots of an appointment type between two dates (both included), for one clinician
    or every clinician with availability. Staff see slots from now on (no minimum notice)."""

    exposes_model = None  # computed slots, not rows
    serializer_class = s.SlotOut
    required_perm = Perm.SCHEDULE_VIEW
    pagination_class = None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.OpenSlotsIn)
        appointment_type = self.lookup(
            AppointmentType, filters["appointment_type"], what="appointment type", is_active=True
        )
        location = self.lookup(Location, filters.get("location"), what="location")
        if filters.get("clinician"):
            clinicians = [self.lookup(Membership, filters["clinician"], what="clinician", is_active=True)]
        else:
            ids = AvailabilityRule.objects.values("clinician_id")
            clinicians = list(Membership.objects.filter(pk__in=ids, is_active=True))
        slots = selectors.open_slots(
            clinicians=clinicians,
            appointment_type=appointment_type,
            start=filters["start"],
            end=filters["end"],
            location=location,
            minimum_notice=0,
        )
        return Response(s.SlotOut(slots, many=True).data)


@extend_schema_view(
    list=extend_schema(parameters=[s.WaitlistFilterIn], responses={200: s.WaitlistEntryOut(many=True), **_READ}),
    retrieve=extend_schema(responses={200: s.WaitlistEntryOut, **_READ_ONE}),
    create=extend_schema(request=s.WaitlistEntryIn, responses={201: s.WaitlistEntryOut, **_WRITE}),
    partial_update=extend_schema(request=s.WaitlistEntryUpdateIn, responses={200: s.WaitlistEntryOut, **_WRITE}),
)
class WaitlistEntryViewSet(_SchedulingViewSet):
    """Patients waiting for a slot, by priority then age (default: waiting or with an offer out),
    of patients the caller may see. PATCH changes what an entry accepts; ``status`` "removed"
    takes it off the list and "waiting" puts it back. Booking from the list happens through offers."""

    exposes_model = WaitlistEntry
    serializer_class = s.WaitlistEntryOut
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.SCHEDULE_MANAGE,
        "partial_update": Perm.SCHEDULE_MANAGE,
    }

    def get_queryset(self) -> QuerySet[WaitlistEntry]:
        if getattr(self, "swagger_fake_view", False):
            return WaitlistEntry.all_objects.none()
        return wl.waitlist_list(visible_patients=self.visible_patients(), statuses=WaitlistEntry.Status.values)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.WaitlistFilterIn)
        queryset = wl.waitlist_list(
            visible_patients=self.visible_patients(),
            statuses=sorted(filters.get("status") or (WaitlistEntry.Status.WAITING, WaitlistEntry.Status.OFFERED)),
            clinician=self.lookup(Membership, filters.get("clinician"), what="clinician"),
            appointment_type=self.lookup(AppointmentType, filters.get("appointment_type"), what="appointment type"),
            location=self.lookup(Location, filters.get("location"), what="location"),
            priority=filters.get("priority"),
        )
        access_record(request=request._request, action=AccessEvent.Action.LIST, object_type="scheduling.waitlistentry")
        return self.paginated(queryset)

    def query(self, serializer_class: type) -> dict[str, Any]:
        # ?status=waiting&status=offered: keep repeated parameters as lists
        params = {k: v if k == "status" else v[-1] for k, v in self.request.query_params.lists()}
        return self.parse(serializer_class, params)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        entry = self.get_object()
        access_record(request=request._request, action=AccessEvent.Action.VIEW, target=entry)
        return Response(self.get_serializer(entry).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.WaitlistEntryIn, request.data)
        patient = self.visible_patients().filter(public_id=data["patient"]).first()
        if patient is None:
            raise NotFound("No such patient.")
        clinicians = [self.lookup(Membership, c, what="clinician", is_active=True) for c in data["clinicians"]]
        fields = {
            "patient": patient,
            "appointment_type": self.lookup(AppointmentType, data["appointment_type"], what="appointment type"),
            "location": self.lookup(Location, data.get("location"), what="location"),
            "weekdays": data["weekdays"],
            "earliest_time": data.get("earliest_time"),
            "latest_time": data.get("latest_time"),
            "priority": data["priority"],
            "notes": data["notes"],
        }
        entry = wl.waitlist_entry_create(by=self.membership, clinicians=clinicians, **fields)
        return Response(s.WaitlistEntryOut(wl.waitlist_entry_get(entry_id=entry.public_id)).data, status=201)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        entry = self.get_object()
        data = self.patch_data(s.WaitlistEntryUpdateIn)
        # The service takes the whole entry: start from what it accepts now.
        fields: dict[str, Any] = {
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
        if "appointment_type" in data:
            fields["appointment_type"] = self.lookup(AppointmentType, data["appointment_type"], what="appointment type")
        if "clinicians" in data:
            fields["clinicians"] = [
                self.lookup(Membership, c, what="clinician", is_active=True) for c in dict.fromkeys(data["clinicians"])
            ]
        if "location" in data:
            fields["location"] = self.lookup(Location, data["location"], what="location")
        for name in ("weekdays", "earliest_time", "latest_time", "priority", "notes"):
            if name in data:
                fields[name] = data[name]
        if "status" in data:
            fields["is_removed"] = data["status"] == WaitlistEntry.Status.REMOVED
        wl.waitlist_entry_update(entry=entry, by=self.membership, **fields)
        return Response(s.WaitlistEntryOut(wl.waitlist_entry_get(entry_id=entry.public_id)).data)
