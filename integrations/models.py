"""Open interfaces of a practice: API keys, outbound webhooks, CSV import and full export."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from practice.scoping import PracticeScopedModel


class ApiKey(PracticeScopedModel):
    """A practice's key for a system (not a person). Only the SHA-256 of the key is stored; the
    key is shown once. It acts for the admin who created it, limited to its scopes."""

    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)  # e.g. ["clinical:read", "scheduling:write"]
    created_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    rate_limit_per_minute = models.PositiveIntegerField(default=120)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"ApiKey {self.name} ({self.key_prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.created_by.is_active


class WebhookEndpoint(PracticeScopedModel):
    """A receiver URL and the events it wants. The signing secret is stored encrypted."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    secret_encrypted = models.TextField()
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"WebhookEndpoint {self.url}"


class WebhookDelivery(PracticeScopedModel):
    """One event sent (or being sent) to one endpoint, with every attempt's outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4)  # the same for every attempt: receivers dedupe on it
    event_type = models.CharField(max_length=60)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)  # first 1,000 characters
    error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhookdelivery_unique_event"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhookdelivery_due")]


class ImportJob(PracticeScopedModel):
    """A CSV migrated from another system: upload, map columns, dry run, then import (all or nothing)."""

    class Kind(models.TextChoices):
        PATIENTS = "patients", "Patients"
        APPOINTMENTS = "appointments", "Appointments"
        BALANCES = "balances", "Opening balances"

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        VALIDATING = "validating", "Checking"
        VALIDATED = "validated", "Checked"
        IMPORTING = "importing", "Importing"
        IMPORTED = "imported", "Imported"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    filename = models.CharField(max_length=200)
    content = models.TextField()  # the CSV as uploaded (UTF-8)
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)  # our field -> their column
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict)  # {"errors": [{"row", "column", "reason"}], "counts": {...}}
    error = models.TextField(blank=True)
    created_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class ExternalRecord(PracticeScopedModel):
    """Which of our rows an external system's id became, so a re-run import updates, not duplicates."""

    kind = models.CharField(max_length=16, choices=ImportJob.Kind.choices)
    external_id = models.CharField(max_length=100)
    object_public_id = models.UUIDField()
    import_job = models.ForeignKey(ImportJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "kind", "external_id"], name="externalrecord_unique_id"),
        ]


class ExportJob(PracticeScopedModel):
    """A full practice export (FHIR NDJSON + CSV in a zip), downloadable once by an owner."""

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        BUILDING = "building", "Building"
        READY = "ready", "Ready to download"
        DOWNLOADED = "downloaded", "Downloaded"
        FAILED = "failed", "Failed"

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to="exports/%Y/%m/", max_length=300, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict)  # file name -> rows
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    downloaded_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
