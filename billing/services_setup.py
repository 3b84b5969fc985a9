"""Writes for billing set-up: the billing identity, rendering providers, payers and their scrub
rule settings, fee schedules, sliding-scale tiers, patient coverage and billing settings, prior
authorizations.

Each service is atomic, takes keyword-only arguments and raises DomainError for a broken rule.
Field formats (NPI check digit, ZIP+4, taxonomy) are checked by the forms and again by
`full_clean()` here, so a caller outside the pages cannot store a malformed identifier.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing.cpt import CPT_CODES
from billing.models import (
    BillingProfile,
    Coverage,
    FeeSchedule,
    FeeScheduleEntry,
    PatientBillingSettings,
    Payer,
    PriorAuthorization,
    RenderingProvider,
    ScrubRuleSetting,
    SlidingScaleTier,
)
from billing.selectors_setup import authorization_usage
from billing.validators import npi_is_valid
from practice.errors import DomainError

NPI_CHECK_DIGIT_MESSAGE = "This NPI fails the check digit"
SUBSCRIBER_FIELDS = (
    "subscriber_first_name",
    "subscriber_last_name",
    "subscriber_date_of_birth",
    "subscriber_sex",
    "subscriber_address_line1",
    "subscriber_city",
    "subscriber_state",
    "subscriber_zip_code",
)


def _apply(instance, data: dict[str, Any], *, exclude: tuple[str, ...] = ()) -> None:
    for name, value in data.items():
        setattr(instance, name, value)
    try:
        instance.full_clean(exclude=["practice", *exclude], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(messages[0], field=None if field == "__all__" else field, code="invalid") from exc


def _check_npi(npi: str) -> None:
    # NPI check digit: Luhn over "80840" + the first nine digits (billing.md R1, CMS NPI standard).
    if npi and not npi_is_valid(npi):
        raise DomainError(NPI_CHECK_DIGIT_MESSAGE, field="npi", code="invalid")


# --- Billing identity and rendering providers ------------------------------------------------


@transaction.atomic
def billing_profile_save(*, practice, data: dict[str, Any]) -> BillingProfile:
    """Create or update the practice's one billing profile (837P 1000A submitter, 2010AA billing provider)."""
    _check_npi(data.get("npi", ""))
    profile = BillingProfile.objects.select_for_update().filter(practice=practice).first()
    profile = profile or BillingProfile(practice=practice)
    _apply(profile, data)
    profile.save()
    return profile


@transaction.atomic
def rendering_provider_save(*, membership, data: dict[str, Any]) -> RenderingProvider:
    """Create or update a clinician's billing identity (837P 2310B rendering provider)."""
    _check_npi(data.get("npi", ""))
    if not membership.is_active:
        raise DomainError("This member is deactivated.", code="inactive")
    provider = RenderingProvider.objects.select_for_update().filter(membership=membership).first()
    if provider is None:
        names = (membership.user.full_name or "").split()
        provider = RenderingProvider(
            practice_id=membership.practice_id,
            membership=membership,
            first_name=names[0] if names else "",
            last_name=names[-1] if len(names) > 1 else "",
        )
    _apply(provider, data, exclude=("membership",))
    provider.save()
    return provider


# --- Payers and scrub rule settings ----------------------------------------------------------


def _codes(values, *, what: str, valid=None) -> list[str]:
    out = []
    for raw in values or []:
        code = str(raw).strip().upper()
        if not code:
            continue
        if valid is not None and code not in valid:
            raise DomainError(f"{code} is not a valid {what}.", code="invalid")
        if code not in out:
            out.append(code)
    return out


@transaction.atomic
def payer_save(*, practice, payer: Payer | None = None, data: dict[str, Any]) -> Payer:
    data = dict(data)
    for key, what in (("auth_required_cpts", "CPT code"), ("accepted_frequency_codes", "frequency code")):
        if key in data:
            valid = CPT_CODES if key == "auth_required_cpts" else {"1", "7", "8"}  # CLM05-3 (billing.md C2)
            try:
                data[key] = _codes(data[key], what=what, valid=valid)
            except DomainError as exc:
                raise DomainError(exc.message, field=key, code="invalid") from exc
    if "excluded_credentials" in data:
        data["excluded_credentials"] = _codes(data["excluded_credentials"], what="credential")
    payer = payer or Payer(practice=practice)
    _apply(payer, data)
    payer.save()
    return payer


@transaction.atomic
def scrub_rule_setting_save(
    *, practice, payer: Payer | None, rule_code: str, is_enabled: bool, severity: str = ""
) -> ScrubRuleSetting | None:
    """Switch a scrubbing rule on/off or override its severity, practice-wide (payer None) or for
    one payer. Back to the default (enabled, rule's severity) deletes the setting."""
    if severity not in ("", "error", "warning"):
        raise DomainError("Severity is error or warning.", field="severity", code="invalid")
    existing = ScrubRuleSetting.objects.select_for_update().filter(payer=payer, rule_code=rule_code).first()
    if is_enabled and not severity:
        if existing is not None:
            existing.delete()
        return None
    setting = existing or ScrubRuleSetting(practice=practice, payer=payer, rule_code=rule_code)
    setting.is_enabled = is_enabled
    setting.severity = severity
    setting.save()
    return setting


# --- Fee schedules and sliding scale ---------------------------------------------------------


@transaction.atomic
def fee_schedule_save(*, practice, schedule: FeeSchedule | None = None, data: dict[str, Any]) -> FeeSchedule:
    """A payer's contracted rates or the practice's self-pay schedule (one active self-pay schedule)."""
    schedule = schedule or FeeSchedule(practice=practice)
    _apply(schedule, data)
    if schedule.kind == FeeSchedule.Kind.PAYER and schedule.payer_id is None:
        raise DomainError("Choose the payer this schedule is for.", field="payer", code="invalid")
    if schedule.kind == FeeSchedule.Kind.SELF_PAY:
        schedule.payer = None
        others = FeeSchedule.objects.select_for_update().filter(kind=FeeSchedule.Kind.SELF_PAY, is_active=True)
        if schedule.is_active and others.exclude(pk=schedule.pk).exists():
            raise DomainError(
                "There is already an active self-pay fee schedule; edit it or deactivate it first.",
                field="kind",
                code="conflict",
            )
    schedule.save()
    return schedule


@transaction.atomic
def fee_entry_save(
    *, schedule: FeeSchedule, cpt: str, modifier: str = "", amount_cents: int, entry: FeeScheduleEntry | None = None
) -> FeeScheduleEntry:
    cpt = cpt.strip().upper()
    modifier = (modifier or "").strip().upper()
    if cpt not in CPT_CODES:
        raise DomainError(f"{cpt} is not a code Tend bills.", field="cpt", code="invalid")
    if amount_cents <= 0:
        raise DomainError("Enter an amount above zero.", field="amount", code="invalid")
    clash = FeeScheduleEntry.objects.filter(schedule=schedule, cpt=cpt, modifier=modifier)
    if entry is not None:
        clash = clash.exclude(pk=entry.pk)
    if clash.exists():
        label = f"{cpt}" + (f" with modifier {modifier}" if modifier else " (any modifier)")
        raise DomainError(f"{label} already has a fee in this schedule.", field="cpt", code="conflict")
    entry = entry or FeeScheduleEntry(practice_id=schedule.practice_id, schedule=schedule)
    _apply(entry, {"cpt": cpt, "modifier": modifier, "amount_cents": amount_cents}, exclude=("schedule",))
    entry.save()
    return entry


@transaction.atomic
def fee_entry_delete(*, entry: FeeScheduleEntry) -> None:
    entry.delete()


@transaction.atomic
def sliding_tier_save(*, practice, tier: SlidingScaleTier | None = None, data: dict[str, Any]) -> SlidingScaleTier:
    tier = tier or SlidingScaleTier(practice=practice)
    _apply(tier, data)
    tier.save()
    return tier


@transaction.atomic
def sliding_tier_delete(*, tier: SlidingScaleTier) -> None:
    in_use = PatientBillingSettings.objects.filter(sliding_scale_tier=tier).count()
    if in_use:
        raise DomainError(
            f"{in_use} patient{'s' if in_use != 1 else ''} use this tier; move them to another tier first.",
            code="in_use",
        )
    tier.delete()


# --- Coverage --------------------------------------------------------------------------------


@transaction.atomic
def coverage_save(*, patient, coverage: Coverage | None = None, data: dict[str, Any], by=None) -> Coverage:
    """Add or edit an insurance coverage.

    When the patient is not the subscriber (SBR02 ≠ 18), the subscriber's name, date of birth,
    sex and address are required: the 837P then carries the 2000C patient loop (billing.md §2).
    One active coverage per priority (one primary, one secondary...).
    """
    coverage = coverage or Coverage(practice_id=patient.practice_id, patient=patient)
    _apply(coverage, data, exclude=("patient",))
    if coverage.relationship == Coverage.Relationship.SELF:
        for name in SUBSCRIBER_FIELDS:
            setattr(coverage, name, None if name == "subscriber_date_of_birth" else "")
    else:
        for name in SUBSCRIBER_FIELDS:
            if not getattr(coverage, name):
                label = name.removeprefix("subscriber_").replace("_", " ")
                raise DomainError(
                    f"The subscriber's {label} is required when the patient is not the subscriber.",
                    field=name,
                    code="required",
                )
    if coverage.starts_on and coverage.ends_on and coverage.ends_on < coverage.starts_on:
        raise DomainError("The coverage ends before it starts.", field="ends_on", code="invalid")
    if coverage.is_active:
        _lock_patient(patient)
        clash = Coverage.objects.filter(patient=patient, is_active=True, priority=coverage.priority)
        if coverage.pk:
            clash = clash.exclude(pk=coverage.pk)
        other = clash.select_related("payer").first()
        if other is not None:
            raise DomainError(
                f"{patient.display_name} already has an active {coverage.get_priority_display().lower()} coverage "
                f"({other.payer.name}). Deactivate it or choose another priority.",
                field="priority",
                code="conflict",
            )
    coverage.save()
    return coverage


def _lock_patient(patient) -> None:
    from clinical.models import Patient

    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk", flat=True).first()


@transaction.atomic
def coverage_deactivate(*, coverage: Coverage, by=None, on: date | None = None) -> Coverage:
    """End a coverage (it stays on file for its past claims)."""
    if not coverage.is_active:
        return coverage
    coverage.is_active = False
    if coverage.ends_on is None:
        coverage.ends_on = on or timezone.localdate()
        if coverage.starts_on and coverage.ends_on < coverage.starts_on:
            coverage.ends_on = coverage.starts_on
    coverage.save(update_fields=["is_active", "ends_on", "updated_at"])
    return coverage


@transaction.atomic
def patient_billing_settings_save(
    *, patient, self_pay: bool, sliding_scale_tier: SlidingScaleTier | None
) -> PatientBillingSettings:
    settings, _ = PatientBillingSettings.objects.select_for_update().get_or_create(
        patient=patient, defaults={"practice_id": patient.practice_id}
    )
    settings.self_pay = self_pay
    settings.sliding_scale_tier = sliding_scale_tier
    settings.save()
    return settings


# --- Prior authorizations --------------------------------------------------------------------


@transaction.atomic
def authorization_save(
    *, coverage: Coverage, authorization: PriorAuthorization | None = None, data: dict[str, Any]
) -> PriorAuthorization:
    data = dict(data)
    if "cpt_codes" in data:
        try:
            data["cpt_codes"] = _codes(data["cpt_codes"], what="CPT code", valid=CPT_CODES)
        except DomainError as exc:
            raise DomainError(exc.message, field="cpt_codes", code="invalid") from exc
    authorization = authorization or PriorAuthorization(
        practice_id=coverage.practice_id, coverage=coverage, patient_id=coverage.patient_id
    )
    _apply(authorization, data, exclude=("coverage", "patient"))
    if authorization.ends_on < authorization.starts_on:
        raise DomainError("The authorization ends before it starts.", field="ends_on", code="invalid")
    if authorization.visits_authorized < 1:
        raise DomainError("Authorize at least one visit.", field="visits_authorized", code="invalid")
    if authorization.pk:
        used, _ = authorization_usage(authorization)
        if authorization.visits_authorized < used:
            raise DomainError(
                f"{used} visits are already billed under this authorization.",
                field="visits_authorized",
                code="invalid",
            )
    authorization.save()
    return authorization
