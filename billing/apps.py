from django.apps import AppConfig

# Secrets never reach the change log; raw X12 (names, member ids, diagnoses) is kept out of it too:
# the file rows themselves are the record.
REDACTED_FIELDS: dict[str, list[str]] = {
    "ClearinghouseConnection": ["password_encrypted", "private_key_encrypted"],
    "ClaimFile": ["content"],
    "InboundFile": ["content"],
    "EligibilityCheck": ["request_x12", "response_x12", "benefits"],
}


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from billing import models

        for model in (
            models.BillingProfile,
            models.RenderingProvider,
            models.Payer,
            models.ScrubRuleSetting,
            models.FeeSchedule,
            models.FeeScheduleEntry,
            models.SlidingScaleTier,
            models.PatientBillingSettings,
            models.Coverage,
            models.PriorAuthorization,
            models.EligibilityCheck,
            models.Charge,
            models.Claim,
            models.ClaimLine,
            models.ClaimEvent,
            models.ScrubFinding,
            models.ControlNumberCounter,
            models.ClaimFile,
            models.ClaimExportRequest,
            models.ClearinghouseConnection,
            models.Transmission,
            models.InboundFile,
            models.LedgerTransaction,
            models.LedgerEntry,
            models.Remittance,
            models.RemittanceClaim,
            models.RemittanceLine,
            models.ProviderAdjustment,
            models.PatientPayment,
            models.PaymentAllocation,
            models.DenialCase,
            models.DenialNote,
            models.Statement,
        ):
            auditlog.register(model, mask_fields=REDACTED_FIELDS.get(model.__name__, []))

        # Connects the 96127 charge receiver to assessments' response_billable signal in every
        # process (web and worker), not only where Celery imports the task modules.
        from billing import tasks_charges  # noqa: F401
