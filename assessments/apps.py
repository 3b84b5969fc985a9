from django.apps import AppConfig

# Answers are clinical content: the change log (read by admins) keeps that a response was
# recorded, not what the patient answered.
REDACTED_FIELDS: dict[str, list[str]] = {
    "Response": [
        "answers",
        "difficulty",
        "total",
        "severity",
        "severity_label",
        "flags",
        "subscores",
        "positive_screen",
    ],
    "RiskAlert": ["flags", "summary", "action_note"],
    "MeasureSummary": [
        "baseline_total",
        "latest_total",
        "latest_severity",
        "latest_severity_label",
        "reliable_improvement",
        "reliable_deterioration",
        "response",
        "remission",
        "recovery",
        "reliable_recovery",
        "at_caseness_at_baseline",
        "primary_diagnosis",
    ],
}


class AssessmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "assessments"
    verbose_name = "Assessments and outcomes"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from assessments import models

        for model in (
            models.AssessmentSettings,
            models.Protocol,
            models.ProtocolAssignment,
            models.Administration,
            models.Response,
            models.RiskAlert,
            models.MeasureSummary,
        ):
            auditlog.register(model, mask_fields=REDACTED_FIELDS.get(model.__name__, []))
