"""/api/v1/ routes of scheduling (included from practice/api_urls.py)."""

from django.urls import path

from scheduling import api

urlpatterns = [
    path(
        "appointment-types/",
        api.AppointmentTypeViewSet.as_view({"get": "list", "post": "create"}),
        name="api_appointment_type_list",
    ),
    path(
        "appointment-types/<uuid:public_id>/",
        api.AppointmentTypeViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_appointment_type_detail",
    ),
    path("rooms/", api.RoomViewSet.as_view({"get": "list", "post": "create"}), name="api_room_list"),
    path(
        "rooms/<uuid:public_id>/",
        api.RoomViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_room_detail",
    ),
    path(
        "availability-rules/",
        api.AvailabilityRuleViewSet.as_view({"get": "list", "post": "create"}),
        name="api_availability_rule_list",
    ),
    path(
        "availability-rules/<uuid:public_id>/",
        api.AvailabilityRuleViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api_availability_rule_detail",
    ),
    path(
        "availability-exceptions/",
        api.AvailabilityExceptionViewSet.as_view({"get": "list", "post": "create"}),
        name="api_availability_exception_list",
    ),
    path(
        "availability-exceptions/<uuid:public_id>/",
        api.AvailabilityExceptionViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api_availability_exception_detail",
    ),
    path(
        "appointments/",
        api.AppointmentViewSet.as_view({"get": "list", "post": "create"}),
        name="api_appointment_list",
    ),
    path(
        "appointments/<uuid:public_id>/",
        api.AppointmentViewSet.as_view({"get": "retrieve"}),
        name="api_appointment_detail",
    ),
    path(
        "appointments/<uuid:public_id>/reschedule/",
        api.AppointmentViewSet.as_view({"post": "reschedule"}),
        name="api_appointment_reschedule",
    ),
    path(
        "appointments/<uuid:public_id>/cancel/",
        api.AppointmentViewSet.as_view({"post": "cancel"}),
        name="api_appointment_cancel",
    ),
    path(
        "appointments/<uuid:public_id>/status/",
        api.AppointmentViewSet.as_view({"post": "set_status"}),
        name="api_appointment_status",
    ),
    path(
        "appointments/<uuid:public_id>/check-in/",
        api.AppointmentViewSet.as_view({"post": "check_in"}),
        name="api_appointment_check_in",
    ),
    path(
        "appointments/<uuid:appointment_id>/attendees/<uuid:attendee_id>/status/",
        api.AttendeeViewSet.as_view({"post": "set_status"}),
        name="api_attendee_status",
    ),
    path("open-slots/", api.OpenSlotsViewSet.as_view({"get": "list"}), name="api_open_slots"),
    path(
        "waitlist/",
        api.WaitlistEntryViewSet.as_view({"get": "list", "post": "create"}),
        name="api_waitlist_list",
    ),
    path(
        "waitlist/<uuid:public_id>/",
        api.WaitlistEntryViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_waitlist_detail",
    ),
]
