"""Staff side of portal messaging, under /p/<practice_slug>/."""

from django.urls import path

from portal import views_staff_messages as views

urlpatterns = [
    path("messages/", views.message_inbox, name="message_inbox"),
    path("messages/<uuid:thread_id>/", views.message_thread, name="message_thread"),
    path("messages/<uuid:thread_id>/reply/", views.message_thread_reply, name="message_thread_reply"),
    path("messages/<uuid:thread_id>/assign/", views.message_thread_assign, name="message_thread_assign"),
    path("messages/<uuid:thread_id>/close/", views.message_thread_close, name="message_thread_close"),
    path("messages/attachments/<uuid:attachment_id>/", views.message_attachment, name="message_attachment"),
    path("patients/<uuid:patient_id>/messaging/", views.patient_messaging, name="patient_messaging"),
    path("patients/<uuid:patient_id>/messages/new/", views.message_new_for_patient, name="message_new_for_patient"),
]
