"""REST API of scheduling (/api/v1/): appointment types, availability, appointments (book,
reschedule, cancel, status), open slots and the waitlist.

Same rules as the pages: SCHEDULE_VIEW to read, SCHEDULE_MANAGE to change; ids are public_ids
looked up through the scoped managers (another practice's object is a 404); writes go through
scheduling.services; reads of appointments and waitlist entries write access events. A booking
that collides answers 409 with the conflicting appointment's id.
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
from scheduling import selectors, services
from scheduling import serializers as s
from scheduling.models import (
    Appointment,
    AppointmentType,
    AvailabilityRule,
    Room,
    WaitlistEntry,
)
from scheduling.waitlist import waitlist_entry_create


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


@extend_schema_view(list=extend_schema(responses=s.AppointmentTypeOut(many=True)))
class AppointmentTypeViewSet(_SchedulingViewSet):
    """The practice's appointment types (durations, modality, group size)."""

    exposes_model = AppointmentType
    serializer_class = s.AppointmentTypeOut
    required_perm = Perm.SCHEDULE_VIEW

    def get_queryset(self) -> QuerySet[AppointmentType]:
        if getattr(self, "swagger_fake_view", False):
            return AppointmentType.all_objects.none()
        return AppointmentType.objects.order_by("name", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(parameters=[s.AvailabilityFilterIn], responses=s.AvailabilityRuleOut(many=True)),
    create=extend_schema(request=s.AvailabilityRuleIn, responses={201: s.AvailabilityRuleOut}),
)
class AvailabilityRuleViewSet(_SchedulingViewSet):
    """Clinicians' weekly working hours (location wall clock)."""

    exposes_model = AvailabilityRule
    serializer_class = s.AvailabilityRuleOut
    action_perms = {"list": Perm.SCHEDULE_VIEW, "create": Perm.SCHEDULE_MANAGE}

    def get_queryset(self) -> QuerySet[AvailabilityRule]:
        if getattr(self, "swagger_fake_view", False):
            return AvailabilityRule.all_objects.none()
        return selectors.availability_rules()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.AvailabilityFilterIn)
        queryset = self.get_queryset()
        if filters.get("clinician"):
            clinician = self.lookup(Membership, filters["clinician"], what="clinician")
            queryset = queryset.filter(clinician=clinician)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

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


_CONFLICT = OpenApiResponse(description="Conflict: error.conflicting_appointment names the appointment in the way.")


@extend_schema_view(
    list=extend_schema(parameters=[s.AppointmentFilterIn], responses=s.AppointmentOut(many=True)),
    retrieve=extend_schema(responses=s.AppointmentOut),
    create=extend_schema(request=s.AppointmentIn, responses={201: s.AppointmentOut, 409: _CONFLICT}),
    reschedule=extend_schema(request=s.RescheduleIn, responses={200: s.AppointmentOut, 409: _CONFLICT}),
    cancel=extend_schema(request=s.CancelIn, responses=s.AppointmentOut),
    set_status=extend_schema(request=s.StatusIn, responses=s.AppointmentOut),
)
class AppointmentViewSet(_SchedulingViewSet):
    """Appointments: list by date range, clinician or patient; book (single, recurring, group);
    reschedule and cancel (scope this / following / all); move along the status flow."""

    exposes_model = Appointment
    serializer_class = s.AppointmentOut
    action_perms = {
        "list": Perm.SCHEDULE_VIEW,
        "retrieve": Perm.SCHEDULE_VIEW,
        "create": Perm.SCHEDULE_MANAGE,
        "reschedule": Perm.SCHEDULE_MANAGE,
        "cancel": Perm.SCHEDULE_MANAGE,
        "set_status": Perm.SCHEDULE_MANAGE,
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

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.AppointmentFilterIn)
        clinician = self.lookup(Membership, filters.get("clinician"), what="clinician")
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
        )
        access_record(
            request=request._request,
            action=AccessEvent.Action.LIST,
            object_type="scheduling.appointment",
            patient_id=patient.public_id if patient else None,
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

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


@extend_schema(parameters=[s.OpenSlotsIn], responses=s.SlotOut(many=True))
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
    list=extend_schema(responses=s.WaitlistEntryOut(many=True)),
    create=extend_schema(request=s.WaitlistEntryIn, responses={201: s.WaitlistEntryOut}),
)
class WaitlistEntryViewSet(_SchedulingViewSet):
    """Patients waiting for a slot (waiting or with an offer out), by priority then age."""

    exposes_model = WaitlistEntry
    serializer_class = s.WaitlistEntryOut
    action_perms = {"list": Perm.SCHEDULE_VIEW, "create": Perm.SCHEDULE_MANAGE}

    def get_queryset(self) -> QuerySet[WaitlistEntry]:
        if getattr(self, "swagger_fake_view", False):
            return WaitlistEntry.all_objects.none()
        return (
            WaitlistEntry.objects.filter(
                status__in=[WaitlistEntry.Status.WAITING, WaitlistEntry.Status.OFFERED],
                patient__in=self.visible_patients().values("pk"),
            )
            .select_related("patient", "appointment_type", "location")
            .prefetch_related("clinicians")
            .order_by("priority", "created_at", "id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        access_record(request=request._request, action=AccessEvent.Action.LIST, object_type="scheduling.waitlistentry")
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

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
        entry = waitlist_entry_create(by=self.membership, clinicians=clinicians, **fields)
        return Response(s.WaitlistEntryOut(entry).data, status=status.HTTP_201_CREATED)
