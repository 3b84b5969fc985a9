"""/api/v1/ routes of scheduling (included from practice/api_urls.py)."""

from django.urls import path

from scheduling import api

urlpatterns = [
    path(
        "appointment-types/",
        api.AppointmentTypeViewSet.as_view({"get": "list"}),
        name="api_appointment_type_list",
    ),
    path(
        "availability-rules/",
        api.AvailabilityRuleViewSet.as_view({"get": "list", "post": "create"}),
        name="api_availability_rule_list",
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
    path("open-slots/", api.OpenSlotsViewSet.as_view({"get": "list"}), name="api_open_slots"),
    path(
        "waitlist/",
        api.WaitlistEntryViewSet.as_view({"get": "list", "post": "create"}),
        name="api_waitlist_list",
    ),
]
