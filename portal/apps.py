from django.apps import AppConfig

# Invitation tokens are stored hashed; even the hash stays out of the change log.
REDACTED_FIELDS: dict[str, list[str]] = {
    "PortalInvitation": ["token_hash"],
}


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "Patient portal"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from portal import models

        for model in (
            models.PortalSettings,
            models.PortalAccess,
            models.PortalInvitation,
            models.PortalAppointmentEvent,
            models.ConsentDocument,
            models.IntakePacket,
            models.IntakeStep,
            models.IntakeSubmission,
            models.IntakeSignature,
            models.IntakeUpload,
            models.PatientMessaging,
            models.MessageThread,
            models.ThreadMessage,
            models.ThreadMessageRead,
            models.ThreadAttachment,
        ):
            auditlog.register(model, mask_fields=REDACTED_FIELDS.get(model.__name__, []))
