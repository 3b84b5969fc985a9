"""Notifications routes (under /p/<practice_slug>/)."""

from django.urls import path

from notifications import views as v

urlpatterns = [
    path("outbox/", v.outbox_view, name="outbox"),
    path("outbox/<uuid:message_id>/", v.message_detail_view, name="message_detail"),
    path("settings/messages/", v.message_templates_view, name="message_templates"),
    path("settings/messages/<uuid:template_id>/", v.message_template_edit_view, name="message_template_edit"),
    path("settings/reminders/", v.reminder_rules_view, name="reminder_rules"),
    path("settings/reminders/<uuid:rule_id>/toggle/", v.reminder_rule_toggle_view, name="reminder_rule_toggle"),
    path("settings/notifications/", v.notification_settings_view, name="notification_settings"),
]
