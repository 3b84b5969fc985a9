"""Patient-side appointments, mounted at /portal/appointments/."""

from django.urls import path

from portal import views_appointments as v

urlpatterns = [
    path("", v.portal_appointments, name="portal_appointments"),
    path("book/", v.portal_book, name="portal_book"),
    path("book/confirm/", v.portal_book_confirm, name="portal_book_confirm"),
    path("<uuid:appointment_id>/", v.portal_appointment_detail, name="portal_appointment_detail"),
    path("<uuid:appointment_id>/cancel/", v.portal_appointment_cancel, name="portal_appointment_cancel"),
    path("<uuid:appointment_id>/reschedule/", v.portal_appointment_reschedule, name="portal_appointment_reschedule"),
]
