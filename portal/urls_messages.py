"""Patient-side secure messaging, mounted at /portal/messages/."""

from django.urls import path

from portal import views_messages as views

urlpatterns = [
    path("", views.portal_messages, name="portal_messages"),
    path("new/", views.portal_message_new, name="portal_message_new"),
    path("<uuid:thread_id>/", views.portal_thread, name="portal_thread"),
    path("<uuid:thread_id>/reply/", views.portal_thread_reply, name="portal_thread_reply"),
    path("attachments/<uuid:attachment_id>/", views.portal_attachment, name="portal_attachment"),
]
