from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = "Email and SMS"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from notifications import models

        for model in (
            models.NotificationSettings,
            models.MessageTemplate,
            models.Message,
            models.ReminderRule,
            models.Reminder,
            models.InboundMessage,
        ):
            auditlog.register(model)
