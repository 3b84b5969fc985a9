"""Calendar routes (under /p/<practice_slug>/): the front desk's part of the scheduling URL contract."""

from django.urls import path

from scheduling import views as v

urlpatterns = [
    path("schedule/", v.calendar_view, name="calendar"),
    path("schedule/new/", v.appointment_new_view, name="appointment_new"),
    path("schedule/new/patients/", v.appointment_patient_search_view, name="appointment_patient_search"),
    path("schedule/new/slots/", v.appointment_open_slots_view, name="appointment_open_slots"),
    path("appointments/<uuid:appointment_id>/", v.appointment_detail_view, name="appointment_detail"),
    path(
        "appointments/<uuid:appointment_id>/reschedule/", v.appointment_reschedule_view, name="appointment_reschedule"
    ),
    path("appointments/<uuid:appointment_id>/cancel/", v.appointment_cancel_view, name="appointment_cancel"),
    path("appointments/<uuid:appointment_id>/status/", v.appointment_status_view, name="appointment_status"),
    path("appointments/<uuid:appointment_id>/check-in/", v.appointment_check_in_view, name="appointment_check_in"),
    path(
        "appointments/<uuid:appointment_id>/attendees/<uuid:attendee_id>/note/",
        v.appointment_start_note_view,
        name="appointment_start_note",
    ),
    path("schedule/availability/", v.availability_view, name="availability"),
    path("schedule/availability/rules/<uuid:rule_id>/", v.availability_rule_edit_view, name="availability_rule_edit"),
    path(
        "schedule/availability/exceptions/<uuid:exception_id>/",
        v.availability_exception_edit_view,
        name="availability_exception_edit",
    ),
    path("schedule/types/", v.appointment_type_list_view, name="appointment_type_list"),
    path("schedule/types/<uuid:type_id>/", v.appointment_type_edit_view, name="appointment_type_edit"),
    path("schedule/rooms/", v.room_list_view, name="room_list"),
    path("schedule/rooms/<uuid:room_id>/", v.room_edit_view, name="room_edit"),
]
