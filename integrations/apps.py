from django.apps import AppConfig

# Secrets and uploaded files stay out of the change log (it records that they changed, not to what).
REDACTED_FIELDS: dict[str, list[str]] = {
    "ApiKey": ["key_hash"],
    "WebhookEndpoint": ["secret_encrypted"],
    "ImportJob": ["content"],
    "WebhookDelivery": ["response_body"],  # whatever the receiver answered: not ours to keep twice
}


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from integrations import models

        for model in (
            models.ApiKey,
            models.WebhookEndpoint,
            models.WebhookDelivery,
            models.ImportJob,
            models.ExternalRecord,
            models.ExportJob,
        ):
            auditlog.register(model, mask_fields=REDACTED_FIELDS.get(model.__name__, []))
