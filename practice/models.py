from __future__ import annotations

import uuid
import zoneinfo

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from practice.permissions import Perm, Role, role_has_perm, role_requires_mfa
from practice.scoping import PracticeScopedModel, scoped_manager

TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz]


class Practice(models.Model):
    """The tenant. Not itself scoped: memberships decide who may enter it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, choices=TIMEZONE_CHOICES, default="America/New_York")
    idle_timeout_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(2), MaxValueValidator(60)],
        help_text="Staff are signed out after this many minutes without activity (2–60).",
    )
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"Practice {self.slug}"


class Location(PracticeScopedModel):
    class PlaceOfService(models.TextChoices):
        # CMS Place of Service code set (cms.gov/medicare/coding-billing/place-of-service-codes).
        OFFICE = "11", "11 Office"
        TELEHEALTH_HOME = "10", "10 Telehealth in patient's home"
        TELEHEALTH_OTHER = "02", "02 Telehealth other than patient's home"
        SCHOOL = "03", "03 School"
        HOME = "12", "12 Home"
        OUTPATIENT_HOSPITAL = "22", "22 On-campus outpatient hospital"
        CMHC = "53", "53 Community mental health center"
        PSYCH_FACILITY_PARTIAL = "52", "52 Psychiatric facility, partial hospitalization"

    name = models.CharField(max_length=120)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(
        max_length=2, blank=True, validators=[RegexValidator(r"^[A-Z]{2}$", "Use the two-letter state code.")]
    )
    postal_code = models.CharField(
        max_length=10,
        blank=True,
        validators=[RegexValidator(r"^\d{5}(-?\d{4})?$", "Use a 5- or 9-digit ZIP code.")],
    )
    phone = models.CharField(max_length=32, blank=True)
    timezone = models.CharField(max_length=64, choices=TIMEZONE_CHOICES, default="America/New_York")
    place_of_service = models.CharField(max_length=2, choices=PlaceOfService.choices, default=PlaceOfService.OFFICE)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["practice", "name"], name="location_unique_name_per_practice")]


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with email + password. What they may do lives on Membership."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the SaaS operator's /admin/ site.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return f"User {self.public_id}"

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class Membership(PracticeScopedModel):
    """A user's place in one practice: their role there and whether it is active."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    is_licensed = models.BooleanField(
        default=True, help_text="Pre-licensed clinicians need a supervisor's co-signature."
    )
    supervisor = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="supervisees")
    title = models.CharField(max_length=60, blank=True, help_text="Credentials shown on notes, e.g. LCSW.")
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user__full_name"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "user"], name="membership_unique_user_per_practice"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def has_perm(self, perm: Perm) -> bool:
        return self.is_active and role_has_perm(self.role, perm)

    @property
    def requires_mfa(self) -> bool:
        return role_requires_mfa(self.role)


class Invitation(PracticeScopedModel):
    """An emailed invitation to join a practice in a role. The token is stored hashed."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    is_licensed = models.BooleanField(default=True)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def status(self) -> str:
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING


class ApiToken(PracticeScopedModel):
    """A bearer token bound to one membership (user + practice). Only its SHA-256 is stored."""

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100, default="API token")
    key_prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class UserSession(models.Model):
    """Index of a user's server-side sessions, so deactivation and password changes end them all."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"UserSession {self.pk}"


# --- Audit -----------------------------------------------------------------------------------


class AuditChainHead(models.Model):
    """The latest link of one hash chain (one per practice and log, plus a global one).

    Appending locks this row, so entries of a chain get gap-free sequence numbers; deleting the
    newest entry is detectable because the head still remembers it.
    """

    chain_key = models.CharField(max_length=80, unique=True)
    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"AuditChainHead {self.chain_key}"


class ChainedEntry(models.Model):
    chain_key = models.CharField(max_length=80, editable=False)
    seq = models.BigIntegerField(editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    entry_hash = models.CharField(max_length=64, editable=False)

    class Meta:
        abstract = True


def _practice_id_of(instance: models.Model) -> int | None:
    if isinstance(instance, Practice):
        return instance.pk
    return getattr(instance, "practice_id", None)


class ChainedLogEntryManager(LogEntryManager):
    """django-auditlog writes through here; each entry is linked into its practice's chain."""

    def create(self, **kwargs: object) -> AuditLogEntry:
        from practice.audit import chain_append

        return chain_append(self.model, kwargs)

    def log_create(self, instance: models.Model, force_log: bool = False, **kwargs: object):
        kwargs.setdefault("practice_id", _practice_id_of(instance))
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        kwargs.setdefault("practice_id", _practice_id_of(instance))
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)


class AuditLogEntry(ChainedEntry, AbstractLogEntry):
    """Every create/update/delete of a registered model (django-auditlog), hash-chained."""

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    objects = scoped_manager(ChainedLogEntryManager)
    all_objects = ChainedLogEntryManager()

    class Meta(AbstractLogEntry.Meta):
        constraints = [models.UniqueConstraint(fields=["chain_key", "seq"], name="auditlogentry_unique_chain_seq")]
        indexes = [models.Index(fields=["practice", "-timestamp"], name="auditlog_practice_ts")]

    def __str__(self) -> str:
        return f"AuditLogEntry {self.pk}"


class AccessEvent(ChainedEntry):
    """A read of patient data or of a tenant-owned record: who, what, when, from where."""

    class Action(models.TextChoices):
        VIEW = "view", "View"
        LIST = "list", "List"
        SEARCH = "search", "Search"
        EXPORT = "export", "Export"
        PRINT = "print", "Print"
        BREAK_GLASS = "break_glass", "Break-the-glass"

    practice = models.ForeignKey(Practice, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    api_token = models.ForeignKey(ApiToken, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.UUIDField(null=True, blank=True, help_text="public_id of the patient concerned")
    reason = models.TextField(blank=True)
    path = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    objects = scoped_manager()
    all_objects = models.Manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["chain_key", "seq"], name="accessevent_unique_chain_seq")]
        indexes = [
            models.Index(fields=["practice", "-occurred_at"], name="access_practice_ts"),
            models.Index(fields=["practice", "patient_id"], name="access_practice_patient"),
            models.Index(fields=["practice", "user"], name="access_practice_user"),
        ]

    def __str__(self) -> str:
        return f"AccessEvent {self.pk}"
