"""The claims half of the revenue cycle: who bills (billing identity, rendering providers), who
pays (payers, coverage, authorizations, eligibility), what a service costs (fee schedules), what
was done (charges, created from signed notes, assessments and appointment fees), and what is sent
(claims, scrub findings, 837P files, clearinghouse transmissions, acknowledgements).

Money is stored in integer cents. CPT codes are stored as codes; our own plain-language labels live
in `billing/cpt.py` (official CPT descriptors are AMA-licensed and are not shipped).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from practice.scoping import PracticeScopedModel

NPI_FORMAT = RegexValidator(r"^[12][0-9]{9}$", "An NPI is 10 digits starting with 1 or 2.")
# NUCC taxonomy codes are 10 characters; every published code ends in X (billing.md R2).
TAXONOMY_FORMAT = RegexValidator(r"^[0-9]{3}[0-9A-Z]{6}X$", "A taxonomy code is 10 characters, e.g. 101YP2500X.")
TIN_FORMAT = RegexValidator(r"^[0-9]{9}$", "A TIN (EIN) is 9 digits, no dash.")
ZIP9_FORMAT = RegexValidator(r"^[0-9]{9}$", "Use the 9-digit ZIP+4 without the dash, e.g. 972051234.")
ZIP_FORMAT = RegexValidator(r"^[0-9]{5}([0-9]{4})?$", "Use a 5- or 9-digit ZIP code, digits only.")
STATE_FORMAT = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter state code.")
CPT_FORMAT = RegexValidator(r"^[0-9A-Z][0-9]{3}[0-9A-Z]$", "A CPT/HCPCS code is 5 characters.")


class BillingProfile(PracticeScopedModel):
    """The practice as billing provider (837P loop 2010AA) and submitter (1000A)."""

    class EntityType(models.TextChoices):
        ORGANIZATION = "2", "Organization (group NPI)"
        INDIVIDUAL = "1", "Individual (solo practitioner)"

    legal_name = models.CharField(max_length=60)
    entity_type = models.CharField(max_length=1, choices=EntityType.choices, default=EntityType.ORGANIZATION)
    npi = models.CharField("Billing NPI", max_length=10, validators=[NPI_FORMAT])
    tin = models.CharField("Tax ID (EIN)", max_length=9, validators=[TIN_FORMAT])
    taxonomy = models.CharField(max_length=10, validators=[TAXONOMY_FORMAT], help_text="e.g. 261QM0801X")
    address_line1 = models.CharField(max_length=55, help_text="Physical street address: no PO box.")
    address_line2 = models.CharField(max_length=55, blank=True)
    city = models.CharField(max_length=30)
    state = models.CharField(max_length=2, validators=[STATE_FORMAT])
    zip_code = models.CharField("ZIP+4", max_length=9, validators=[ZIP9_FORMAT])
    pay_to_address_line1 = models.CharField(max_length=55, blank=True, help_text="Where payers mail checks (2010AB).")
    pay_to_address_line2 = models.CharField(max_length=55, blank=True)
    pay_to_city = models.CharField(max_length=30, blank=True)
    pay_to_state = models.CharField(max_length=2, blank=True, validators=[STATE_FORMAT])
    pay_to_zip_code = models.CharField(max_length=9, blank=True, validators=[ZIP_FORMAT])
    submitter_id = models.CharField(max_length=15, help_text="Your ID with the clearinghouse (ISA06/GS02/1000A).")
    contact_name = models.CharField(max_length=60)
    contact_phone = models.CharField(max_length=10, validators=[RegexValidator(r"^[0-9]{10}$", "10 digits.")])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice"], name="billingprofile_one_per_practice")]


class RenderingProvider(PracticeScopedModel):
    """A clinician's billing identity (837P loop 2310B / 2310D)."""

    membership = models.OneToOneField("practice.Membership", on_delete=models.PROTECT, related_name="billing_identity")
    npi = models.CharField("NPI", max_length=10, validators=[NPI_FORMAT])
    taxonomy = models.CharField(max_length=10, validators=[TAXONOMY_FORMAT])
    credential = models.CharField(max_length=20, blank=True, help_text="e.g. LCSW, PsyD, PMHNP")
    is_prescriber = models.BooleanField(default=False, help_text="MD/DO/NP/PA: may bill 90792 and E/M + add-ons.")
    first_name = models.CharField(max_length=35)
    last_name = models.CharField(max_length=60)


class Payer(PracticeScopedModel):
    class FilingIndicator(models.TextChoices):
        # SBR09 claim filing indicator code (X12 element 1032), the ones behavioural health meets.
        COMMERCIAL = "CI", "CI Commercial insurance"
        BLUE_CROSS = "BL", "BL Blue Cross / Blue Shield"
        HMO = "HM", "HM Health maintenance organization"
        PPO = "12", "12 Preferred provider organization"
        POS = "13", "13 Point of service"
        EPO = "14", "14 Exclusive provider organization"
        MEDICARE_B = "MB", "MB Medicare Part B"
        MEDICAID = "MC", "MC Medicaid"
        CHAMPVA = "CH", "CH CHAMPUS / TRICARE"
        VA = "VA", "VA Veterans Affairs plan"
        WORKERS_COMP = "WC", "WC Workers' compensation"
        OTHER = "ZZ", "ZZ Mutually defined"

    class TelehealthConvention(models.TextChoices):
        # billing.md P8: Medicare uses POS 02/10 + 95 (93 audio-only); others differ.
        CMS = "cms", "POS 10 (home) / 02 (other) with modifier 95 (93 audio-only)"
        OFFICE_95 = "office_95", "POS 11 with modifier 95"
        GT = "gt", "POS 02 with modifier GT"

    name = models.CharField(max_length=60)
    payer_id = models.CharField("Payer ID", max_length=80, help_text="The electronic payer ID (2010BB NM109).")
    filing_indicator = models.CharField(
        max_length=2, choices=FilingIndicator.choices, default=FilingIndicator.COMMERCIAL
    )
    timely_filing_days = models.PositiveSmallIntegerField(default=365, validators=[MinValueValidator(30)])
    telehealth = models.CharField(max_length=10, choices=TelehealthConvention.choices, default=TelehealthConvention.CMS)
    auth_required_cpts = models.JSONField(
        default=list, blank=True, help_text='CPT codes needing prior auth, e.g. ["90837"].'
    )
    accepted_frequency_codes = models.JSONField(
        default=list, blank=True, help_text='e.g. ["1", "7", "8"]; empty = all.'
    )
    requires_supervising_provider = models.BooleanField(
        default=False, help_text="Pre-licensed clinicians bill under a supervising provider (2310D)."
    )
    excluded_credentials = models.JSONField(
        default=list, blank=True, help_text='Credentials it will not pay, e.g. ["LMFT"].'
    )
    address_line1 = models.CharField(max_length=55, blank=True)
    city = models.CharField(max_length=30, blank=True)
    state = models.CharField(max_length=2, blank=True, validators=[STATE_FORMAT])
    zip_code = models.CharField(max_length=9, blank=True, validators=[ZIP_FORMAT])
    phone = models.CharField(max_length=20, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# What staff edit on a payer: the setup form and the API share this list.
PAYER_EDITABLE_FIELDS = [
    "name",
    "payer_id",
    "filing_indicator",
    "timely_filing_days",
    "telehealth",
    "auth_required_cpts",
    "accepted_frequency_codes",
    "requires_supervising_provider",
    "excluded_credentials",
    "address_line1",
    "city",
    "state",
    "zip_code",
    "phone",
    "is_active",
]


class ScrubRuleSetting(PracticeScopedModel):
    """A scrubbing rule switched off, or reconfigured, for the practice (payer empty) or one payer."""

    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="rule_settings")
    rule_code = models.CharField(max_length=8)
    is_enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=7, blank=True, help_text="error or warning; empty = the rule's default")
    config = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "payer", "rule_code"], name="scrubrulesetting_unique"),
        ]


class FeeSchedule(PracticeScopedModel):
    class Kind(models.TextChoices):
        PAYER = "payer", "Payer contract"
        SELF_PAY = "self_pay", "Self-pay"

    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PAYER)
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="fee_schedules")
    effective_from = models.DateField(default=timezone.localdate)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]


class FeeScheduleEntry(PracticeScopedModel):
    schedule = models.ForeignKey(FeeSchedule, on_delete=models.PROTECT, related_name="entries")
    cpt = models.CharField("CPT/HCPCS", max_length=5, validators=[CPT_FORMAT])
    modifier = models.CharField(max_length=2, blank=True, help_text="Empty = any modifier.")
    amount_cents = models.PositiveIntegerField()

    class Meta:
        ordering = ["cpt", "modifier"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "cpt", "modifier"], name="feescheduleentry_unique"),
        ]


class SlidingScaleTier(PracticeScopedModel):
    """A self-pay discount tier (e.g. by household income), assigned per patient."""

    name = models.CharField(max_length=60)
    discount_percent = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["discount_percent"]


class PatientBillingSettings(PracticeScopedModel):
    patient = models.OneToOneField("clinical.Patient", on_delete=models.PROTECT, related_name="billing_settings")
    sliding_scale_tier = models.ForeignKey(SlidingScaleTier, on_delete=models.PROTECT, null=True, blank=True)
    self_pay = models.BooleanField(default=False, help_text="Bill the patient, not insurance.")


# What staff edit on a coverage (besides its payer): the form and the API share this list.
COVERAGE_EDITABLE_FIELDS = [
    "priority",
    "member_id",
    "group_number",
    "plan_name",
    "relationship",
    "subscriber_first_name",
    "subscriber_last_name",
    "subscriber_date_of_birth",
    "subscriber_sex",
    "subscriber_address_line1",
    "subscriber_city",
    "subscriber_state",
    "subscriber_zip_code",
    "starts_on",
    "ends_on",
    "coinsurance_percent",
]


class Coverage(PracticeScopedModel):
    class Priority(models.TextChoices):
        PRIMARY = "P", "Primary"
        SECONDARY = "S", "Secondary"
        TERTIARY = "T", "Tertiary"

    class Relationship(models.TextChoices):
        # Individual relationship codes (X12 element 1069) for 2000B SBR02 / 2000C PAT01.
        SELF = "18", "Self"
        SPOUSE = "01", "Spouse"
        CHILD = "19", "Child"
        EMPLOYEE = "20", "Employee"
        LIFE_PARTNER = "53", "Life partner"
        OTHER = "G8", "Other relationship"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="coverages")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    priority = models.CharField(max_length=1, choices=Priority.choices, default=Priority.PRIMARY)
    member_id = models.CharField(max_length=80)
    group_number = models.CharField(max_length=50, blank=True)
    plan_name = models.CharField(max_length=60, blank=True)
    relationship = models.CharField(max_length=2, choices=Relationship.choices, default=Relationship.SELF)
    subscriber_first_name = models.CharField(max_length=35, blank=True)
    subscriber_last_name = models.CharField(max_length=60, blank=True)
    subscriber_date_of_birth = models.DateField(null=True, blank=True)
    subscriber_sex = models.CharField(
        max_length=1, blank=True, choices=[("F", "Female"), ("M", "Male"), ("U", "Unknown")]
    )
    subscriber_address_line1 = models.CharField(max_length=55, blank=True)
    subscriber_city = models.CharField(max_length=30, blank=True)
    subscriber_state = models.CharField(max_length=2, blank=True, validators=[STATE_FORMAT])
    subscriber_zip_code = models.CharField(max_length=9, blank=True, validators=[ZIP_FORMAT])
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    copay_cents = models.PositiveIntegerField(default=0)
    coinsurance_percent = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "-starts_on"]
        indexes = [models.Index(fields=["practice", "patient", "is_active"], name="coverage_patient")]


class PriorAuthorization(PracticeScopedModel):
    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="prior_authorizations")
    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="authorizations")
    number = models.CharField(max_length=50)
    cpt_codes = models.JSONField(default=list, help_text='e.g. ["90834", "90837"]; empty = any service.')
    visits_authorized = models.PositiveSmallIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    notes = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-ends_on"]


class EligibilityCheck(PracticeScopedModel):
    """An X12 270 we generated for a coverage and the 271 response imported for it."""

    class Status(models.TextChoices):
        GENERATED = "generated", "270 generated"
        ANSWERED = "answered", "271 imported"
        FAILED = "failed", "271 not readable"

    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="eligibility_checks")
    trace_number = models.CharField(max_length=30)
    request_x12 = models.TextField()
    response_x12 = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.GENERATED)
    is_active_coverage = models.BooleanField(null=True, blank=True)
    benefits = models.JSONField(default=list, blank=True, help_text="Parsed EB segments for mental-health services.")
    error = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, null=True, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class Charge(PracticeScopedModel):
    """One billable service line, created from its source (a signed note, a scored assessment, an
    appointment fee) — never typed. Insurance charges go on claims; patient charges on statements."""

    class Kind(models.TextChoices):
        INSURANCE = "insurance", "Insurance"
        PATIENT = "patient", "Patient responsibility"

    class Status(models.TextChoices):
        UNBILLED = "unbilled", "Not on a claim yet"
        ON_CLAIM = "on_claim", "On a claim"
        PATIENT = "patient", "Billed to the patient"
        VOID = "void", "Void"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="charges")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INSURANCE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNBILLED)
    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, null=True, blank=True, related_name="charges")
    note = models.ForeignKey("clinical.ProgressNote", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    attendee = models.ForeignKey(
        "scheduling.Attendee", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assessment_response = models.ForeignKey(
        "assessments.Response", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=16, help_text="note, assessment, late_cancel_fee, no_show_fee, manual")
    service_date = models.DateField()
    cpt = models.CharField("CPT/HCPCS", max_length=5, validators=[CPT_FORMAT], blank=True)
    modifiers = models.JSONField(default=list, blank=True)
    units = models.PositiveSmallIntegerField(default=1)
    minutes = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Documented psychotherapy minutes.")
    place_of_service = models.CharField(max_length=2, default="11")
    diagnosis_codes = models.JSONField(default=list, blank=True, help_text="ICD-10-CM codes (dotted), claim order.")
    diagnosis_pointers = models.JSONField(default=list, blank=True, help_text="1-based, up to 4.")
    rendering = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, null=True, related_name="+")
    supervising = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    prior_authorization = models.ForeignKey(
        PriorAuthorization, on_delete=models.PROTECT, null=True, blank=True, related_name="charges"
    )
    fee_cents = models.PositiveIntegerField()
    description = models.CharField(
        max_length=120, blank=True, help_text="For patient charges, e.g. 'Late cancellation fee'."
    )
    idempotency_key = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["-service_date", "-id"]
        indexes = [
            models.Index(fields=["practice", "status", "service_date"], name="charge_status"),
            models.Index(fields=["practice", "patient", "service_date"], name="charge_patient"),
        ]


class Claim(PracticeScopedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        READY = "ready", "Ready to submit"
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted by payer"
        REJECTED = "rejected", "Rejected"
        PAID = "paid", "Paid"
        PARTIALLY_PAID = "partial", "Partially paid"
        DENIED = "denied", "Denied"
        APPEALED = "appealed", "Appealed"
        CLOSED = "closed", "Closed"
        VOID = "void", "Voided"

    class Frequency(models.TextChoices):
        # CLM05-3 claim frequency type code (billing.md C2).
        ORIGINAL = "1", "Original"
        REPLACEMENT = "7", "Replacement (corrected claim)"
        VOID = "8", "Void / cancel of prior claim"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="claims")
    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="claims")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="claims")
    service_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    status_changed_at = models.DateTimeField(default=timezone.now)
    control_number = models.CharField("Claim control number (CLM01)", max_length=20, unique=True)
    frequency = models.CharField(max_length=1, choices=Frequency.choices, default=Frequency.ORIGINAL)
    original = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="replacements")
    payer_claim_number = models.CharField(
        max_length=50, blank=True, help_text="The payer's claim number (ICN), from the 835 or 277CA; REF*F8."
    )
    rendering = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, null=True, related_name="+")
    supervising = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    location = models.ForeignKey("practice.Location", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    place_of_service = models.CharField(max_length=2, default="11")
    diagnosis_codes = models.JSONField(default=list, help_text="ICD-10-CM (dotted), HI order; max 12.")
    prior_authorization_number = models.CharField(max_length=50, blank=True)
    total_cents = models.PositiveIntegerField(default=0)
    scrubbed_at = models.DateTimeField(null=True, blank=True)
    error_count = models.PositiveSmallIntegerField(default=0)
    warning_count = models.PositiveSmallIntegerField(default=0)
    claim_file = models.ForeignKey("ClaimFile", on_delete=models.PROTECT, null=True, blank=True, related_name="claims")
    submitted_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-service_date", "-id"]
        indexes = [
            models.Index(fields=["practice", "status", "service_date"], name="claim_status"),
            models.Index(fields=["practice", "payer", "status"], name="claim_payer"),
            models.Index(fields=["practice", "patient", "service_date"], name="claim_patient"),
        ]


class ClaimLine(PracticeScopedModel):
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="lines")
    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, related_name="claim_lines")
    line_number = models.PositiveSmallIntegerField()
    service_date = models.DateField()
    cpt = models.CharField(max_length=5)
    modifiers = models.JSONField(default=list, blank=True)
    units = models.PositiveSmallIntegerField(default=1)
    charge_cents = models.PositiveIntegerField()
    place_of_service = models.CharField(max_length=2, blank=True, help_text="Only when it differs from the claim's.")
    diagnosis_pointers = models.JSONField(default=list)
    minutes = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["claim", "line_number"]
        constraints = [models.UniqueConstraint(fields=["claim", "line_number"], name="claimline_unique_number")]


class ClaimEvent(PracticeScopedModel):
    """Every status change of a claim: who, when, from what to what, and why."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10)
    by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    source = models.CharField(max_length=20, default="staff", help_text="staff, system, 999, 277CA, 835")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]


class ScrubFinding(PracticeScopedModel):
    """One rule hit of the latest scrub of a claim (replaced on every scrub)."""

    class Severity(models.TextChoices):
        ERROR = "error", "Error (blocks submission)"
        WARNING = "warning", "Warning"

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="findings")
    line = models.ForeignKey(ClaimLine, on_delete=models.PROTECT, null=True, blank=True, related_name="findings")
    rule_code = models.CharField(max_length=8)
    severity = models.CharField(max_length=7, choices=Severity.choices)
    message = models.TextField()
    fix = models.CharField(max_length=300, blank=True, help_text="How to fix it, in words.")
    fix_url = models.CharField(max_length=300, blank=True, help_text="The page where it is fixed.")

    class Meta:
        ordering = ["claim", "severity", "rule_code", "id"]


class ControlNumberCounter(PracticeScopedModel):
    """Per-practice counters for X12 interchange (ISA13), group (GS06) and transaction (ST02)
    control numbers, incremented under a row lock so two exports never share a number."""

    name = models.CharField(max_length=20)
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice", "name"], name="controlnumbercounter_unique")]


class ClaimFile(PracticeScopedModel):
    """An 837P interchange we generated. Released only when pyx12 validated it."""

    class Status(models.TextChoices):
        RELEASED = "released", "Released"
        INVALID = "invalid", "Failed validation (not released)"
        ACCEPTED = "accepted", "Accepted (999)"
        REJECTED = "rejected", "Rejected (999)"

    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    receiver_id = models.CharField(max_length=15)
    interchange_control_number = models.CharField(max_length=9)
    group_control_number = models.CharField(max_length=9)
    transaction_control_number = models.CharField(max_length=9)
    usage_indicator = models.CharField(max_length=1, default="T", help_text="ISA15: T test, P production")
    filename = models.CharField(max_length=120)
    content = models.TextField()
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices)
    validation_errors = models.JSONField(default=list, blank=True)
    claim_count = models.PositiveIntegerField(default=0)
    total_cents = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "interchange_control_number"], name="claimfile_unique_interchange"
            ),
        ]


class ClaimExportRequest(PracticeScopedModel):
    """A biller's "Export" click: the 837 files are written by a worker (claims_export_run_task).

    `attempts` counts claims of the request by a worker; a run that died (its transaction rolled
    back) leaves it running with an old `started_at`, and the recovery job runs it again."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    claim_ids = models.JSONField(null=True, blank=True)  # claim public ids; null = every ready claim
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    files = models.ManyToManyField(ClaimFile, blank=True, related_name="+")
    claims_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One export at a time per practice: a second click while one is queued or running is refused.
            models.UniqueConstraint(
                fields=["practice"],
                condition=models.Q(status__in=["queued", "running"]),
                name="claimexportrequest_one_open_per_practice",
            ),
        ]

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class ClearinghouseConnection(PracticeScopedModel):
    """SFTP to the practice's clearinghouse. The password / private key are stored encrypted
    (billing/crypto.py, key from settings), never shown again once saved."""

    name = models.CharField(max_length=60)
    host = models.CharField(max_length=200)
    port = models.PositiveIntegerField(default=22, validators=[MaxValueValidator(65535)])
    username = models.CharField(max_length=100)
    password_encrypted = models.TextField(blank=True)
    private_key_encrypted = models.TextField(blank=True)
    host_key = models.TextField(blank=True, help_text="The server's public host key (known_hosts line); required.")
    upload_dir = models.CharField(max_length=200, default="/inbound")
    download_dir = models.CharField(max_length=200, default="/outbound")
    receiver_id = models.CharField(max_length=15, help_text="The clearinghouse's ID (ISA08/GS03/1000B).")
    receiver_name = models.CharField(max_length=60)
    usage_indicator = models.CharField(max_length=1, default="T", choices=[("T", "Test"), ("P", "Production")])
    is_active = models.BooleanField(default=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice"], name="clearinghouse_one_per_practice")]


class Transmission(PracticeScopedModel):
    """One file moved to or from the clearinghouse, with its attempts."""

    class Direction(models.TextChoices):
        UPLOAD = "upload", "Upload"
        DOWNLOAD = "download", "Download"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(ClearinghouseConnection, on_delete=models.PROTECT, related_name="transmissions")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    filename = models.CharField(max_length=200)
    claim_file = models.ForeignKey(
        ClaimFile, on_delete=models.PROTECT, null=True, blank=True, related_name="transmissions"
    )
    inbound_file = models.ForeignKey(
        "InboundFile", on_delete=models.PROTECT, null=True, blank=True, related_name="transmissions"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "direction", "filename"], name="transmission_once_per_file"),
        ]


class InboundFile(PracticeScopedModel):
    """An X12 file received (999, 277CA, 835, 271), uploaded by hand or collected by SFTP.
    Importing the same bytes twice does nothing (sha256 per practice)."""

    class Kind(models.TextChoices):
        ACK_999 = "999", "999 implementation acknowledgment"
        CLAIM_STATUS_277CA = "277CA", "277CA claim acknowledgment"
        REMITTANCE_835 = "835", "835 remittance advice"
        ELIGIBILITY_271 = "271", "271 eligibility response"
        UNKNOWN = "unknown", "Not recognised"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        REJECTED = "rejected", "Rejected (not readable)"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    filename = models.CharField(max_length=200)
    content = models.TextField()
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    received_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["practice", "sha256"], name="inboundfile_once_per_content")]


# --- Billing II: remittances, the ledger, patient payments (issue 7) --------------------------


class LedgerAccount(models.TextChoices):
    """The practice's accounts. Every LedgerTransaction's entries sum to zero (double entry):
    debits positive, credits negative. A/R is the sum of the A/R accounts at an as-of date."""

    INSURANCE_AR = "insurance_ar", "Insurance receivable"
    PATIENT_AR = "patient_ar", "Patient receivable"
    CHARGES = "charges", "Gross charges (revenue)"
    CONTRACTUAL = "contractual", "Contractual adjustments"
    OTHER_ADJUSTMENT = "other_adjustment", "Other adjustments (OA/PI)"
    WRITE_OFF = "write_off", "Write-offs"
    CASH = "cash", "Payments received"
    PATIENT_CREDIT = "patient_credit", "Patient credit (unapplied)"
    PROVIDER_ADJUSTMENT = "provider_adjustment", "Provider-level adjustments (PLB)"


class LedgerTransaction(PracticeScopedModel):
    """One balanced business event: a charge, a remittance claim posting, a patient payment, a
    refund, a write-off, a reversal. Immutable; a mistake is reversed by another transaction."""

    class Kind(models.TextChoices):
        CHARGE = "charge", "Charge"
        REMITTANCE = "remittance", "Insurance remittance"
        PATIENT_PAYMENT = "patient_payment", "Patient payment"
        REFUND = "refund", "Refund"
        WRITE_OFF = "write_off", "Write-off"
        TRANSFER = "transfer", "Transfer of responsibility"
        REVERSAL = "reversal", "Reversal"
        PROVIDER_ADJUSTMENT = "provider_adjustment", "Provider-level adjustment"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_on = models.DateField(default=timezone.localdate)
    memo = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=160, unique=True)
    reverses = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by")
    created_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_on", "-id"]


class LedgerEntry(PracticeScopedModel):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.CharField(max_length=20, choices=LedgerAccount.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Debit positive, credit negative.")
    occurred_on = models.DateField()
    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries")
    claim_line = models.ForeignKey(ClaimLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries")
    rendering = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    adjustment_group = models.CharField(max_length=2, blank=True, help_text="CAS group: CO, PR, OA, PI")
    adjustment_reason = models.CharField(max_length=5, blank=True, help_text="CARC")

    class Meta:
        ordering = ["occurred_on", "id"]
        indexes = [
            models.Index(fields=["practice", "account", "occurred_on"], name="ledger_account_day"),
            models.Index(fields=["practice", "patient", "account"], name="ledger_patient"),
            models.Index(fields=["practice", "claim"], name="ledger_claim"),
        ]


class Remittance(PracticeScopedModel):
    """One 835 transaction (BPR/TRN), posted whole in one database transaction or rejected whole."""

    class Status(models.TextChoices):
        POSTED = "posted", "Posted"
        REJECTED = "rejected", "Rejected (nothing posted)"

    inbound_file = models.ForeignKey(
        InboundFile, on_delete=models.PROTECT, null=True, blank=True, related_name="remittances"
    )
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="remittances")
    payer_name = models.CharField(max_length=60, blank=True)
    payer_identifier = models.CharField(max_length=80, help_text="TRN03 (payer 1 + TIN) or N1*PR id.")
    trace_number = models.CharField(max_length=50, help_text="TRN02: check or EFT trace number.")
    payment_amount = models.DecimalField(max_digits=12, decimal_places=2)
    payment_method = models.CharField(max_length=3, blank=True, help_text="BPR04: ACH, CHK, BOP, FWT, NON")
    payment_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    error = models.TextField(blank=True, help_text="Why the file was rejected: segment number and reason.")
    summary = models.JSONField(default=dict, blank=True)
    posted_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "payer_identifier", "trace_number"],
                condition=models.Q(status="posted"),
                name="remittance_posted_once",
            )
        ]


class RemittanceClaim(PracticeScopedModel):
    """A CLP of a posted 835, matched to our claim by CLM01 (or waiting in the unmatched queue)."""

    class Outcome(models.TextChoices):
        PAID = "paid", "Paid"
        PARTIAL = "partial", "Partially paid"
        DENIED = "denied", "Denied"
        PATIENT_RESPONSIBILITY = "patient", "Moved to patient responsibility"
        REVERSED = "reversed", "Reversal"
        FORWARDED = "forwarded", "Processed and forwarded (crossover)"
        OTHER = "other", "Other"

    remittance = models.ForeignKey(Remittance, on_delete=models.PROTECT, related_name="claims")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="remittance_claims")
    claim_control_number = models.CharField(max_length=38, help_text="CLP01 as sent in CLM01.")
    status_code = models.CharField(max_length=2, help_text="CLP02")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    charge_amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2)
    patient_responsibility = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    payer_claim_number = models.CharField(max_length=50, blank=True, help_text="CLP07")
    patient_name = models.CharField(max_length=120, blank=True, help_text="NM1*QC, to match by hand.")
    service_date = models.DateField(null=True, blank=True)
    adjustments = models.JSONField(default=list, blank=True, help_text="Claim-level CAS: [{group, reason, amount}]")
    remarks = models.JSONField(default=list, blank=True, help_text="MOA remark codes")
    is_matched = models.BooleanField(default=True)
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="Unmatched item matched or dismissed by hand.")
    resolved_by = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["remittance", "id"]
        indexes = [models.Index(fields=["practice", "is_matched", "resolved_at"], name="remitclaim_unmatched")]


class RemittanceLine(PracticeScopedModel):
    remittance_claim = models.ForeignKey(RemittanceClaim, on_delete=models.PROTECT, related_name="lines")
    claim_line = models.ForeignKey(
        ClaimLine, on_delete=models.PROTECT, null=True, blank=True, related_name="remittance_lines"
    )
    cpt = models.CharField(max_length=5)
    modifiers = models.JSONField(default=list, blank=True)
    charge_amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2)
    allowed_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    units = models.DecimalField(max_digits=7, decimal_places=2, default=1)
    service_date = models.DateField(null=True, blank=True)
    adjustments = models.JSONField(default=list, blank=True, help_text="[{group, reason, amount}]")
    remarks = models.JSONField(default=list, blank=True, help_text="LQ*HE RARCs")
    is_denied = models.BooleanField(default=False)
    denial_reason = models.CharField(max_length=8, blank=True, help_text="e.g. CO-197")

    class Meta:
        ordering = ["remittance_claim", "id"]


class ProviderAdjustment(PracticeScopedModel):
    """A PLB adjustment (interest, offsets, recoupments): provider-level, not on a patient's claim."""

    remittance = models.ForeignKey(Remittance, on_delete=models.PROTECT, related_name="provider_adjustments")
    reason = models.CharField(max_length=2)
    reference = models.CharField(max_length=50, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="Positive reduces the payment.")


class PatientPayment(PracticeScopedModel):
    """Money from (or back to) a patient, recorded — Tend processes no cards."""

    class Method(models.TextChoices):
        CASH = "cash", "Cash"
        CHECK = "check", "Check"
        CARD = "card", "Card (processed elsewhere)"
        OTHER = "other", "Other"

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PAYMENT)
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    method = models.CharField(max_length=6, choices=Method.choices)
    reference = models.CharField(max_length=60, blank=True, help_text="Check number, card last 4, receipt.")
    received_on = models.DateField(default=timezone.localdate)
    is_copay = models.BooleanField(default=False)
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, null=True, related_name="+")
    ledger_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="patient_payment"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_on", "-id"]


class PaymentAllocation(PracticeScopedModel):
    payment = models.ForeignKey(PatientPayment, on_delete=models.PROTECT, related_name="allocations")
    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(max_digits=12, decimal_places=2)


class DenialCase(PracticeScopedModel):
    """A denied claim (or line) being worked: assigned, noted, appealed, corrected or written off."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPEALED = "appealed", "Appealed"
        RESUBMITTED = "resubmitted", "Corrected claim sent"
        WRITTEN_OFF = "written_off", "Written off"
        RESOLVED = "resolved", "Resolved"

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="denial_cases")
    remittance_claim = models.ForeignKey(RemittanceClaim, on_delete=models.PROTECT, related_name="denial_cases")
    reason_code = models.CharField(max_length=8, help_text="e.g. CO-197")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    assigned_to = models.ForeignKey(
        "practice.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_worked_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["remittance_claim"], name="denialcase_one_per_remit_claim")]


class DenialNote(PracticeScopedModel):
    case = models.ForeignKey(DenialCase, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey("practice.Membership", on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    action = models.CharField(max_length=20, blank=True, help_text="note, assigned, appealed, resubmitted, written_off")

    class Meta:
        ordering = ["created_at", "id"]


class Statement(PracticeScopedModel):
    """A patient statement as issued (amounts frozen at issue time; the PDF is rendered from it)."""

    patient = models.ForeignKey("clinical.Patient", on_delete=models.PROTECT, related_name="statements")
    period_start = models.DateField()
    period_end = models.DateField()
    balance_due = models.DecimalField(max_digits=12, decimal_places=2)
    lines = models.JSONField(
        default=list, help_text="[{date, description, charge, insurance_paid, adjustments, patient_paid, balance}]"
    )
    issued_on = models.DateField(default=timezone.localdate)
    emailed_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["-issued_on", "-id"]


# Pre-aggregated A/R aging (issue 10), in its own module.
from billing.models_rollup import ARAgingCell, ARRollupState  # noqa: E402, F401
