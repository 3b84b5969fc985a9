from django.apps import AppConfig

# Clinical text is redacted in the change log: admins read the audit log, and they must not
# read note content there that the chart would not show them (psychotherapy notes above all).
REDACTED_FIELDS: dict[str, list[str]] = {
    "ProgressNote": [
        "content",
        "plan",
        "participants",
        "risk_protective_factors",
        "interventions",
        "risk_ideation",
        "risk_plan",
        "risk_intent",
        "risk_means",
        "risk_level",
    ],
    "NoteAddendum": ["text", "reason"],
    "PsychotherapyNote": ["body"],
    "TreatmentPlan": ["strengths", "barriers", "discharge_criteria"],
    "TreatmentProblem": ["description"],
    "TreatmentGoal": ["description", "interventions"],
    "TreatmentObjective": ["description"],
    "Medication": ["name", "dose", "frequency", "route", "notes", "prescriber_name"],
    "Prescription": ["sig", "quantity"],
    "Diagnosis": ["notes"],
    "EmergencyAccess": ["reason"],
}


class ClinicalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "clinical"
    verbose_name = "Clinical record"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from clinical import models

        for model in (
            models.Patient,
            models.CommunicationConsent,
            models.Diagnosis,
            models.NoteTemplate,
            models.ProgressNote,
            models.NoteAddendum,
            models.PsychotherapyNote,
            models.TreatmentPlan,
            models.TreatmentProblem,
            models.TreatmentGoal,
            models.TreatmentObjective,
            models.Medication,
            models.Prescription,
            models.Document,
            models.EmergencyAccess,
            models.MrnCounter,
        ):
            auditlog.register(model, mask_fields=REDACTED_FIELDS.get(model.__name__, []))
