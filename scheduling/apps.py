from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from scheduling import models

        for model in (
            models.Room,
            models.AppointmentType,
            models.AvailabilityRule,
            models.AvailabilityException,
            models.AppointmentSeries,
            models.Appointment,
            models.Attendee,
            models.StatusChange,
            models.SchedulingSettings,
            models.WaitlistEntry,
            models.WaitlistOffer,
        ):
            auditlog.register(model)
        auditlog.register(models.CalendarFeed, exclude_fields=["token_hash", "last_fetched_at"])
