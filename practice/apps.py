from django.apps import AppConfig


class PracticeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "practice"
    verbose_name = "Practices, staff and audit"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from practice import models

        auditlog.register(models.Practice)
        auditlog.register(models.Location)
        auditlog.register(models.Membership)
        auditlog.register(models.Invitation, exclude_fields=["token_hash"])
        auditlog.register(models.ApiToken, exclude_fields=["key_hash", "last_used_at"])
        auditlog.register(models.User, exclude_fields=["password", "last_login"])
