"""/api/v1/ routes of notifications (included from practice/api_urls.py)."""

from django.urls import path

from notifications import api

urlpatterns = [
    path("messages/", api.MessageViewSet.as_view({"get": "list"}), name="api_message_list"),
    path("messages/<uuid:public_id>/", api.MessageViewSet.as_view({"get": "retrieve"}), name="api_message_detail"),
    path(
        "message-templates/",
        api.MessageTemplateViewSet.as_view({"get": "list"}),
        name="api_message_template_list",
    ),
    path(
        "message-templates/<uuid:public_id>/",
        api.MessageTemplateViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_message_template_detail",
    ),
    path(
        "reminder-rules/",
        api.ReminderRuleViewSet.as_view({"get": "list", "post": "create"}),
        name="api_reminder_rule_list",
    ),
    path(
        "reminder-rules/<uuid:public_id>/",
        api.ReminderRuleViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_reminder_rule_detail",
    ),
    path(
        "notification-settings/",
        api.NotificationSettingsViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_notification_settings",
    ),
]
