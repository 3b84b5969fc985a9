"""API shapes of billing (/api/v1/). Parse and render only: writes go through the billing services.

Money is always a string with two decimals ("150.00"), never a float: amounts stored in cents
are rendered by `CentsField`, decimal columns by `Money`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from billing import carc
from billing.models import (
    COVERAGE_EDITABLE_FIELDS,
    PAYER_EDITABLE_FIELDS,
    Charge,
    Claim,
    ClaimEvent,
    ClaimLine,
    Coverage,
    DenialCase,
    DenialNote,
    FeeSchedule,
    FeeScheduleEntry,
    PatientPayment,
    Payer,
    PaymentAllocation,
    PriorAuthorization,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    ScrubFinding,
    Statement,
)

CENTS = Decimal(100)
EARLIEST_AS_OF = date(2000, 1, 1)  # the metrics look back a year; keep dates sane


class Money(serializers.DecimalField):
    """A read-only amount of a decimal column, as a two-decimal string."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(max_digits=12, decimal_places=2, coerce_to_string=True, **kwargs)


class CentsField(Money):
    """A read-only amount stored in integer cents, as a two-decimal string."""

    def to_representation(self, value: Any) -> str:
        return super().to_representation(Decimal(value or 0) / CENTS)


def money_in(**kwargs: Any) -> serializers.DecimalField:
    """An amount sent by the client: a decimal string or number with at most two decimals."""
    kwargs.setdefault("min_value", Decimal("0.01"))
    kwargs.setdefault("max_value", Decimal("9999999999.99"))
    return serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True, **kwargs)


def _uuid(source: str, **kwargs: Any) -> serializers.UUIDField:
    return serializers.UUIDField(source=source, read_only=True, **kwargs)


class _PublicId(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)


# --- Filters -----------------------------------------------------------------------------------


class PatientFilterIn(serializers.Serializer):
    patient = serializers.UUIDField(required=False, help_text="Only this patient's rows.")


class DateRangeFilterIn(PatientFilterIn):
    service_from = serializers.DateField(required=False, help_text="Date of service on or after.")
    service_to = serializers.DateField(required=False, help_text="Date of service on or before.")


class ChargeFilterIn(DateRangeFilterIn):
    status = serializers.ChoiceField(choices=Charge.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=Charge.Kind.choices, required=False)


CLAIM_ORDERINGS = [
    "service_date",
    "-service_date",
    "status_changed_at",
    "-status_changed_at",
    "total",
    "-total",
    "created_at",
    "-created_at",
]


class ClaimFilterIn(DateRangeFilterIn):
    status = serializers.ChoiceField(choices=Claim.Status.choices, required=False)
    payer = serializers.UUIDField(required=False)
    clinician = serializers.UUIDField(required=False, help_text="The rendering clinician's member id.")
    ordering = serializers.ChoiceField(choices=CLAIM_ORDERINGS, required=False, default="-service_date")


class RemittanceFilterIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Remittance.Status.choices, required=False)
    payer = serializers.UUIDField(required=False)


class RemittanceClaimFilterIn(serializers.Serializer):
    unmatched = serializers.BooleanField(
        required=False, default=False, help_text="Only the work queue: unmatched and not yet matched or dismissed."
    )
    remittance = serializers.UUIDField(required=False)


DENIAL_STATUS_FILTERS = [("open", "Every open status (default)"), ("all", "All"), *DenialCase.Status.choices]


class DenialFilterIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=DENIAL_STATUS_FILTERS, required=False, default="open")
    payer = serializers.UUIDField(required=False)
    assignee = serializers.UUIDField(required=False)


class PaymentFilterIn(PatientFilterIn):
    received_from = serializers.DateField(required=False)
    received_to = serializers.DateField(required=False)


class ARSummaryFilterIn(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="Default today; a later date counts as today.")
    period = serializers.ChoiceField(
        choices=[30, 90, 365], required=False, default=90, help_text="Days of the rate window ending on as_of."
    )

    def validate_as_of(self, value: date) -> date:
        if value < EARLIEST_AS_OF:
            raise serializers.ValidationError(f"Use a date from {EARLIEST_AS_OF.isoformat()} on.")
        return value


# --- Set-up: payers, fee schedules, coverage, authorizations -----------------------------------


class PayerOut(_PublicId):
    auth_required_cpts = serializers.ListField(child=serializers.CharField(), read_only=True)
    accepted_frequency_codes = serializers.ListField(child=serializers.CharField(), read_only=True)
    excluded_credentials = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Payer
        fields = ["id", *PAYER_EDITABLE_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class PayerIn(serializers.ModelSerializer):
    auth_required_cpts = serializers.ListField(child=serializers.CharField(max_length=5), required=False)
    accepted_frequency_codes = serializers.ListField(child=serializers.CharField(max_length=1), required=False)
    excluded_credentials = serializers.ListField(child=serializers.CharField(max_length=20), required=False)

    class Meta:
        model = Payer
        fields = PAYER_EDITABLE_FIELDS


class FeeEntryOut(serializers.ModelSerializer):
    amount = CentsField(source="amount_cents")

    class Meta:
        model = FeeScheduleEntry
        fields = ["cpt", "modifier", "amount"]
        read_only_fields = fields


class FeeScheduleOut(_PublicId):
    payer = _uuid("payer.public_id", allow_null=True)
    entries = FeeEntryOut(many=True, read_only=True)

    class Meta:
        model = FeeSchedule
        fields = ["id", "name", "kind", "payer", "effective_from", "is_active", "entries"]
        read_only_fields = fields


class CoverageOut(_PublicId):
    patient = _uuid("patient.public_id")
    payer = _uuid("payer.public_id")
    payer_name = serializers.CharField(source="payer.name", read_only=True)
    copay = CentsField(source="copay_cents")

    class Meta:
        model = Coverage
        fields = ["id", "patient", "payer", "payer_name", *COVERAGE_EDITABLE_FIELDS, "copay", "is_active", "updated_at"]
        read_only_fields = fields


class CoverageIn(serializers.ModelSerializer):
    patient = serializers.UUIDField(help_text="Only on create; a coverage never moves to another patient.")
    payer = serializers.UUIDField()
    copay = money_in(required=False, min_value=Decimal("0"), max_value=Decimal("100000.00"))
    is_active = serializers.BooleanField(required=False, help_text="false ends the coverage (kept for old claims).")

    class Meta:
        model = Coverage
        fields = ["patient", "payer", *COVERAGE_EDITABLE_FIELDS, "copay", "is_active"]


class PriorAuthorizationOut(_PublicId):
    patient = _uuid("patient.public_id")
    coverage = _uuid("coverage.public_id")
    cpt_codes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = PriorAuthorization
        fields = [
            "id",
            "patient",
            "coverage",
            "number",
            "cpt_codes",
            "visits_authorized",
            "starts_on",
            "ends_on",
            "notes",
        ]
        read_only_fields = fields


# --- Charges and claims ------------------------------------------------------------------------


class ChargeOut(_PublicId):
    patient = _uuid("patient.public_id")
    coverage = _uuid("coverage.public_id", allow_null=True)
    rendering = _uuid("rendering.public_id", allow_null=True)
    fee = CentsField(source="fee_cents")
    modifiers = serializers.ListField(child=serializers.CharField(), read_only=True)
    diagnosis_codes = serializers.ListField(child=serializers.CharField(), read_only=True)
    diagnosis_pointers = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = Charge
        fields = [
            "id",
            "patient",
            "kind",
            "status",
            "coverage",
            "source",
            "service_date",
            "cpt",
            "modifiers",
            "units",
            "minutes",
            "place_of_service",
            "diagnosis_codes",
            "diagnosis_pointers",
            "rendering",
            "fee",
            "description",
            "created_at",
        ]
        read_only_fields = fields


CLAIM_SUMMARY_FIELDS = [
    "id",
    "control_number",
    "status",
    "frequency",
    "patient",
    "payer",
    "payer_name",
    "coverage",
    "rendering",
    "service_date",
    "total",
    "error_count",
    "warning_count",
    "scrubbed_at",
    "submitted_at",
    "status_changed_at",
    "payer_claim_number",
    "original",
    "created_at",
]


class ClaimOut(_PublicId):
    patient = _uuid("patient.public_id")
    payer = _uuid("payer.public_id")
    payer_name = serializers.CharField(source="payer.name", read_only=True)
    coverage = _uuid("coverage.public_id")
    rendering = _uuid("rendering.public_id", allow_null=True)
    original = _uuid("original.public_id", allow_null=True)
    total = CentsField(source="total_cents")

    class Meta:
        model = Claim
        fields = CLAIM_SUMMARY_FIELDS
        read_only_fields = fields


class ClaimLineOut(serializers.ModelSerializer):
    charge = _uuid("charge.public_id")
    amount = CentsField(source="charge_cents")
    modifiers = serializers.ListField(child=serializers.CharField(), read_only=True)
    diagnosis_pointers = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = ClaimLine
        fields = [
            "line_number",
            "charge",
            "service_date",
            "cpt",
            "modifiers",
            "units",
            "amount",
            "place_of_service",
            "diagnosis_pointers",
            "minutes",
        ]
        read_only_fields = fields


class ClaimEventOut(serializers.ModelSerializer):
    by = _uuid("by.public_id", allow_null=True)

    class Meta:
        model = ClaimEvent
        fields = ["from_status", "to_status", "by", "source", "note", "created_at"]
        read_only_fields = fields


class ScrubFindingOut(serializers.ModelSerializer):
    line_number = serializers.IntegerField(source="line.line_number", read_only=True, allow_null=True)

    class Meta:
        model = ScrubFinding
        fields = ["rule_code", "severity", "message", "fix", "line_number"]
        read_only_fields = fields


class ClaimDetailOut(ClaimOut):
    diagnosis_codes = serializers.ListField(child=serializers.CharField(), read_only=True)
    lines = ClaimLineOut(many=True, read_only=True)
    findings = ScrubFindingOut(many=True, read_only=True)
    events = ClaimEventOut(many=True, read_only=True)

    class Meta:
        model = Claim
        fields = [
            *CLAIM_SUMMARY_FIELDS,
            "place_of_service",
            "diagnosis_codes",
            "prior_authorization_number",
            "rejection_reason",
            "lines",
            "findings",
            "events",
        ]
        read_only_fields = fields


class ClaimTransitionIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Claim.Status.choices)
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="Why (kept in the claim's history)."
    )


class ClaimVoidIn(serializers.Serializer):
    payer_claim_number = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=50, help_text="Needed once the payer has the claim."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


# --- Remittances -------------------------------------------------------------------------------


class AdjustmentOut(serializers.Serializer):
    group = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)
    amount = serializers.CharField(read_only=True, help_text="A two-decimal amount, as in the 835.")


class RemittanceLineOut(serializers.ModelSerializer):
    modifiers = serializers.ListField(child=serializers.CharField(), read_only=True)
    charge_amount = Money()
    paid_amount = Money()
    allowed_amount = Money(allow_null=True)
    units = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=True, read_only=True)
    adjustments = AdjustmentOut(many=True, read_only=True)
    remarks = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = RemittanceLine
        fields = [
            "cpt",
            "modifiers",
            "service_date",
            "units",
            "charge_amount",
            "paid_amount",
            "allowed_amount",
            "adjustments",
            "remarks",
            "is_denied",
            "denial_reason",
        ]
        read_only_fields = fields


class RemittanceClaimOut(_PublicId):
    remittance = _uuid("remittance.public_id")
    claim = _uuid("claim.public_id", allow_null=True)
    charge_amount = Money()
    paid_amount = Money()
    patient_responsibility = Money()
    adjustments = AdjustmentOut(many=True, read_only=True)
    remarks = serializers.ListField(child=serializers.CharField(), read_only=True)
    lines = RemittanceLineOut(many=True, read_only=True)

    class Meta:
        model = RemittanceClaim
        fields = [
            "id",
            "remittance",
            "claim",
            "claim_control_number",
            "status_code",
            "outcome",
            "charge_amount",
            "paid_amount",
            "patient_responsibility",
            "payer_claim_number",
            "patient_name",
            "service_date",
            "adjustments",
            "remarks",
            "is_matched",
            "resolved_at",
            "lines",
        ]
        read_only_fields = fields


class ProviderAdjustmentOut(serializers.ModelSerializer):
    amount = Money()

    class Meta:
        model = ProviderAdjustment
        fields = ["reason", "reference", "amount"]
        read_only_fields = fields


REMITTANCE_FIELDS = [
    "id",
    "status",
    "payer",
    "payer_name",
    "payer_identifier",
    "trace_number",
    "payment_amount",
    "payment_method",
    "payment_date",
    "error",
    "created_at",
]


class RemittanceOut(_PublicId):
    payer = _uuid("payer.public_id", allow_null=True)
    payment_amount = Money()

    class Meta:
        model = Remittance
        fields = REMITTANCE_FIELDS
        read_only_fields = fields


class RemittanceDetailOut(RemittanceOut):
    claims = RemittanceClaimOut(many=True, read_only=True)
    provider_adjustments = ProviderAdjustmentOut(many=True, read_only=True)

    class Meta:
        model = Remittance
        fields = [*REMITTANCE_FIELDS, "claims", "provider_adjustments"]
        read_only_fields = fields


class RemittanceUploadIn(serializers.Serializer):
    file = serializers.FileField(help_text="The 835 file (X12 text starting with ISA).")


class RemittanceImportOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["posted", "duplicate"], read_only=True)
    remittances = RemittanceDetailOut(many=True, read_only=True)
    claims_matched = serializers.IntegerField(read_only=True)
    unmatched = serializers.IntegerField(read_only=True)
    total_paid = Money()


class RemittanceMatchIn(serializers.Serializer):
    control_number = serializers.CharField(max_length=38, help_text="Our claim's control number (CLM01).")


# --- Denials -----------------------------------------------------------------------------------


class DenialNoteOut(serializers.ModelSerializer):
    author = _uuid("author.public_id")

    class Meta:
        model = DenialNote
        fields = ["author", "text", "action", "created_at"]
        read_only_fields = fields


DENIAL_FIELDS = [
    "id",
    "claim",
    "claim_control_number",
    "patient",
    "payer",
    "remittance_claim",
    "reason_code",
    "reason",
    "amount",
    "status",
    "assigned_to",
    "last_worked_at",
    "resolution_note",
    "created_at",
]


class DenialOut(_PublicId):
    claim = _uuid("claim.public_id")
    claim_control_number = serializers.CharField(source="claim.control_number", read_only=True)
    patient = _uuid("claim.patient.public_id")
    payer = _uuid("claim.payer.public_id")
    remittance_claim = _uuid("remittance_claim.public_id")
    reason = serializers.SerializerMethodField(help_text="The CARC in words.")
    amount = Money()
    assigned_to = _uuid("assigned_to.public_id", allow_null=True)

    class Meta:
        model = DenialCase
        fields = DENIAL_FIELDS
        read_only_fields = fields

    def get_reason(self, case: DenialCase) -> str:
        return carc.describe(case.reason_code)


class DenialDetailOut(DenialOut):
    notes = DenialNoteOut(many=True, read_only=True)

    class Meta:
        model = DenialCase
        fields = [*DENIAL_FIELDS, "notes"]
        read_only_fields = fields


class DenialAssignIn(serializers.Serializer):
    assignee = serializers.UUIDField(allow_null=True, help_text="A billing team member's id; null unassigns.")


class DenialNoteIn(serializers.Serializer):
    text = serializers.CharField(max_length=4000, allow_blank=True)


class DenialWriteOffIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=True)
    amount = money_in(required=False, allow_null=True, help_text="Default: the whole denied amount still open.")


class DenialResubmitIn(serializers.Serializer):
    payer_claim_number = serializers.CharField(required=False, allow_blank=True, default="", max_length=50)


class DenialResubmitOut(serializers.Serializer):
    denial = DenialDetailOut(read_only=True)
    corrected_claim = ClaimOut(read_only=True)


# --- Patient payments, balances, statements ----------------------------------------------------


class AllocationOut(serializers.ModelSerializer):
    charge = _uuid("charge.public_id")
    amount = Money()

    class Meta:
        model = PaymentAllocation
        fields = ["charge", "amount"]
        read_only_fields = fields


class PaymentOut(_PublicId):
    patient = _uuid("patient.public_id")
    amount = Money()
    appointment = _uuid("appointment.public_id", allow_null=True)
    allocations = AllocationOut(many=True, read_only=True)

    class Meta:
        model = PatientPayment
        fields = [
            "id",
            "patient",
            "kind",
            "amount",
            "method",
            "reference",
            "received_on",
            "is_copay",
            "appointment",
            "note",
            "allocations",
            "created_at",
        ]
        read_only_fields = fields


class PaymentIn(serializers.Serializer):
    patient = serializers.UUIDField()
    amount = money_in()
    method = serializers.ChoiceField(choices=PatientPayment.Method.choices)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=60)
    received_on = serializers.DateField(required=False, allow_null=True, default=None)
    charges = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        allow_empty=True,
        max_length=200,
        help_text="Charges to pay; empty pays the oldest open charges first.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class OpenChargeOut(serializers.Serializer):
    charge = serializers.UUIDField(read_only=True)
    service_date = serializers.DateField(read_only=True)
    cpt = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    outstanding = Money()


class BalanceOut(serializers.Serializer):
    patient = serializers.UUIDField(read_only=True)
    balance = Money(help_text="What the patient owes (negative: the practice holds a credit).")
    credit_available = Money()
    insurance_pending = Money()
    open_charges = OpenChargeOut(many=True, read_only=True)


class StatementLineOut(serializers.Serializer):
    date = serializers.DateField(read_only=True)
    description = serializers.CharField(read_only=True)
    cpt = serializers.CharField(read_only=True)
    charge = Money()
    insurance_paid = Money()
    adjustments = Money()
    patient_paid = Money()
    insurance_pending = Money()
    balance = Money()


class StatementOut(_PublicId):
    patient = _uuid("patient.public_id")
    balance_due = Money()
    lines = StatementLineOut(many=True, read_only=True)

    class Meta:
        model = Statement
        fields = ["id", "patient", "period_start", "period_end", "issued_on", "emailed_at", "balance_due", "lines"]
        read_only_fields = fields


# --- A/R summary -------------------------------------------------------------------------------


class RatioOut(serializers.Serializer):
    numerator = serializers.IntegerField(read_only=True)
    denominator = serializers.IntegerField(read_only=True)
    percent = serializers.DecimalField(
        max_digits=5, decimal_places=1, coerce_to_string=True, read_only=True, allow_null=True
    )


class AgingRowOut(serializers.Serializer):
    label = serializers.CharField(read_only=True)
    payer = serializers.UUIDField(read_only=True, allow_null=True)
    buckets = serializers.DictField(child=Money(), read_only=True, help_text="0-30, 31-60, 61-90, 91-120, 120+")
    total = Money()


class MonthOut(serializers.Serializer):
    month = serializers.DateField(read_only=True)
    charges = Money()
    payments = Money()
    adjustments = Money()


class BreakdownOut(serializers.Serializer):
    label = serializers.CharField(read_only=True)
    charges = Money()
    payments = Money()
    adjustments = Money()
    ar = Money()


class NetCollectionOut(serializers.Serializer):
    cohort_start = serializers.DateField(read_only=True)
    cohort_end = serializers.DateField(read_only=True)
    payments = Money()
    gross = Money()
    contractual = Money()
    percent = serializers.DecimalField(
        max_digits=5, decimal_places=1, coerce_to_string=True, read_only=True, allow_null=True
    )


class ARSummaryOut(serializers.Serializer):
    as_of = serializers.DateField(read_only=True)
    period_start = serializers.DateField(read_only=True)
    period_end = serializers.DateField(read_only=True)
    insurance_ar = Money()
    patient_ar = Money()
    total_ar = Money()
    days_in_ar = serializers.DecimalField(
        max_digits=8, decimal_places=1, coerce_to_string=True, read_only=True, allow_null=True
    )
    ar_over_90_percent = serializers.DecimalField(
        max_digits=5, decimal_places=1, coerce_to_string=True, read_only=True, allow_null=True
    )
    denial_rate = RatioOut(read_only=True)
    first_pass_resolution_rate = RatioOut(read_only=True)
    clean_claim_rate = RatioOut(read_only=True)
    net_collection_rate = NetCollectionOut(read_only=True)
    aging_by_payer = AgingRowOut(many=True, read_only=True)
    aging_patient = AgingRowOut(read_only=True)
    aging_total = AgingRowOut(read_only=True)
    months = MonthOut(many=True, read_only=True)
    by_payer = BreakdownOut(many=True, read_only=True)
    by_clinician = BreakdownOut(many=True, read_only=True)
