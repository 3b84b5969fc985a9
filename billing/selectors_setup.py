"""Reads for billing set-up: fees (`fee_for`), a patient's active coverage, prior-authorization
usage and the booking warning, and the lists the set-up pages show.

Every query runs through the scoped managers: callers are inside a practice scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Count, Q
from django.utils import timezone

from billing.models import (
    Charge,
    Coverage,
    EligibilityCheck,
    FeeSchedule,
    FeeScheduleEntry,
    PatientBillingSettings,
    Payer,
    PriorAuthorization,
    ScrubRuleSetting,
)
from practice.errors import DomainError

# --- Fees ------------------------------------------------------------------------------------


def _schedule_on(*, payer: Payer | None, on: date) -> FeeSchedule | None:
    """The schedule in force on `on`: the latest active one that took effect on or before it."""
    qs = FeeSchedule.objects.filter(is_active=True, effective_from__lte=on)
    qs = qs.filter(payer=payer, kind=FeeSchedule.Kind.PAYER) if payer else qs.filter(kind=FeeSchedule.Kind.SELF_PAY)
    return qs.order_by("-effective_from", "-id").first()


def _entry_amount(*, schedule: FeeSchedule, cpt: str, modifiers: list[str]) -> int | None:
    entries = {e.modifier: e.amount_cents for e in FeeScheduleEntry.objects.filter(schedule=schedule, cpt=cpt)}
    for modifier in modifiers or []:  # an entry for one of the line's modifiers wins (e.g. 95 telehealth)
        if modifier in entries:
            return entries[modifier]
    return entries.get("")


def discounted(amount_cents: int, percent: int) -> int:
    """`amount_cents` less `percent`%, rounded half up to the cent."""
    return (amount_cents * (100 - percent) + 50) // 100


def fee_for(*, coverage: Coverage | None, cpt: str, modifiers: list[str] | None = None, patient, on: date) -> int:
    """The fee in cents for one unit of `cpt` on `on`.

    Insurance (a coverage): the payer's schedule in force — the entry for one of the modifiers
    first, then the modifier-less entry. No coverage (self-pay): the self-pay schedule less the
    patient's sliding-scale discount. DomainError when no fee is on file (a claim is never priced
    by guess).
    """
    modifiers = list(modifiers or [])
    if coverage is not None:
        payer = coverage.payer
        schedule = _schedule_on(payer=payer, on=on)
        amount = _entry_amount(schedule=schedule, cpt=cpt, modifiers=modifiers) if schedule else None
        if amount is None:
            raise DomainError(
                f"No fee for CPT {cpt} in {payer.name}'s fee schedule"
                + ("" if schedule else " (no schedule in force on this date)")
                + ". Add it under Billing set-up › Fee schedules.",
                field="cpt",
                code="no_fee",
            )
        return amount
    schedule = _schedule_on(payer=None, on=on)
    amount = _entry_amount(schedule=schedule, cpt=cpt, modifiers=modifiers) if schedule else None
    if amount is None:
        raise DomainError(
            f"No self-pay fee for CPT {cpt}. Add it to the self-pay fee schedule.", field="cpt", code="no_fee"
        )
    settings = PatientBillingSettings.objects.filter(patient=patient).select_related("sliding_scale_tier").first()
    tier = settings.sliding_scale_tier if settings else None
    return discounted(amount, tier.discount_percent) if tier else amount


# --- Coverage --------------------------------------------------------------------------------


def _in_force(on: date) -> Q:
    return (Q(starts_on__isnull=True) | Q(starts_on__lte=on)) & (Q(ends_on__isnull=True) | Q(ends_on__gte=on))


def active_coverage(patient, *, on: date | None = None, priority: str = Coverage.Priority.PRIMARY) -> Coverage | None:
    """The patient's active coverage of `priority` in force on `on` (default today), with its payer."""
    on = on or timezone.localdate()
    return (
        Coverage.objects.filter(patient=patient, is_active=True, priority=priority)
        .filter(_in_force(on))
        .select_related("payer")
        .order_by("-starts_on", "-id")
        .first()
    )


def patient_coverages(patient) -> list[Coverage]:
    """All the patient's coverages (active first), with payer and authorizations (two queries)."""
    return list(
        Coverage.objects.filter(patient=patient)
        .select_related("payer")
        .prefetch_related("authorizations")
        .order_by("-is_active", "priority", "-starts_on", "-id")
    )


def patient_billing_settings(patient) -> PatientBillingSettings | None:
    return PatientBillingSettings.objects.filter(patient=patient).select_related("sliding_scale_tier").first()


def latest_eligibility(patient, *, limit: int = 10) -> list[EligibilityCheck]:
    return list(
        EligibilityCheck.objects.filter(coverage__patient=patient)
        .select_related("coverage__payer", "requested_by__user")
        .order_by("-created_at", "-id")[:limit]
    )


def chart_billing(*, patient, membership=None) -> dict:
    """The chart's "Coverage & billing" section: active coverages and the self-pay flag (two queries)."""
    from practice.permissions import Perm

    coverages = list(
        Coverage.objects.filter(patient=patient, is_active=True)
        .filter(_in_force(timezone.localdate()))
        .select_related("payer")
        .order_by("priority", "-starts_on", "-id")
    )
    return {
        "coverages": coverages,
        "settings": patient_billing_settings(patient),
        "can_manage": membership is not None and membership.has_perm(Perm.COVERAGE_MANAGE),
    }


# --- Prior authorizations --------------------------------------------------------------------


def _auth_cpt_q(auth: PriorAuthorization) -> Q:
    return Q(appointment_type__default_service_code__in=auth.cpt_codes) if auth.cpt_codes else Q()


def authorization_usage(auth: PriorAuthorization) -> tuple[int, int]:
    """(visits used, visits remaining): used = non-void charges linked to the authorization."""
    used = Charge.objects.filter(prior_authorization=auth).exclude(status=Charge.Status.VOID).count()
    return used, max(auth.visits_authorized - used, 0)


def authorization_for(*, coverage: Coverage, cpt: str, on: date) -> PriorAuthorization | None:
    """The authorization of `coverage` covering `cpt` on `on` with visits left (the one ending
    soonest first), else the covering one even if exhausted (the scrubber reports it), else None."""
    candidates = [
        a
        for a in PriorAuthorization.objects.filter(coverage=coverage, starts_on__lte=on, ends_on__gte=on)
        .annotate(used=Count("charges", filter=~Q(charges__status=Charge.Status.VOID)))
        .order_by("ends_on", "id")
        if not a.cpt_codes or cpt in a.cpt_codes
    ]
    for auth in candidates:
        if auth.used < auth.visits_authorized:
            return auth
    return candidates[0] if candidates else None


def _booked_before(*, auth: PriorAuthorization, patient, before: datetime, exclude_appointment_id=None) -> int:
    """Future visits already booked under the authorization before `before` (not yet charged:
    scheduled/confirmed/arrived) — they will use visits first."""
    from scheduling.models import Appointment, Attendee

    now = timezone.now()
    start = max(now, timezone.make_aware(datetime.combine(auth.starts_on, time.min)))
    qs = Attendee.objects.filter(
        patient=patient,
        status__in=("expected", "confirmed", "arrived"),
        starts_at__gte=start,
        starts_at__lt=before,
        appointment__status__in=(
            Appointment.Status.SCHEDULED,
            Appointment.Status.CONFIRMED,
            Appointment.Status.ARRIVED,
        ),
    )
    if auth.cpt_codes:
        qs = qs.filter(appointment__appointment_type__default_service_code__in=auth.cpt_codes)
    if exclude_appointment_id is not None:
        qs = qs.exclude(appointment_id=exclude_appointment_id)
    return qs.count()


def _day(d: date) -> str:
    return f"{d:%b} {d.day}, {d.year}"


def authorization_warning(
    *, patient, cpt: str, on: date | datetime, exclude_appointment_id: int | None = None
) -> str | None:
    """Why a visit of `cpt` on `on` is not covered by a prior authorization, or None.

    Only when the patient's active primary coverage's payer requires authorization for `cpt`.
    Visits left = authorized - charged - booked earlier (future appointments not yet charged).
    A warning, never a block: the front desk books and chases the authorization.
    """
    if not cpt:
        return None
    when = on if isinstance(on, datetime) else timezone.make_aware(datetime.combine(on, time.max))
    day = timezone.localdate(when) if isinstance(on, datetime) else on
    coverage = active_coverage(patient, on=day)
    if coverage is None or cpt not in (coverage.payer.auth_required_cpts or []):
        return None
    auths = [
        a
        for a in PriorAuthorization.objects.filter(coverage=coverage)
        .annotate(used=Count("charges", filter=~Q(charges__status=Charge.Status.VOID)))
        .order_by("ends_on", "id")
        if not a.cpt_codes or cpt in a.cpt_codes
    ]
    if not auths:
        return f"No prior authorization on file for {cpt}: {coverage.payer.name} requires one."
    covering = [a for a in auths if a.starts_on <= day <= a.ends_on]
    if not covering:
        past = [a for a in auths if a.ends_on < day]
        if past:
            last = max(past, key=lambda a: a.ends_on)
            return f"Authorization {last.number} expired on {_day(last.ends_on)}; {coverage.payer.name} requires one for {cpt}."
        first = min(auths, key=lambda a: a.starts_on)
        return f"Authorization {first.number} starts on {_day(first.starts_on)}, after this visit."
    worst = None
    for auth in covering:
        booked = _booked_before(auth=auth, patient=patient, before=when, exclude_appointment_id=exclude_appointment_id)
        left = max(auth.visits_authorized - auth.used - booked, 0)
        if left > 0:
            return None
        worst = worst or (auth, booked)
    auth, booked = worst
    detail = f" ({auth.used} used, {booked} booked before this one)" if booked else ""
    return f"Authorization {auth.number} has 0 of {auth.visits_authorized} visits left{detail}."


def appointment_authorization_warnings(appointment) -> list[str]:
    """Warnings for each patient of an appointment (booking and appointment pages)."""
    cpt = appointment.appointment_type.default_service_code
    if not cpt:
        return []
    out = []
    attendees = list(appointment.attendees.select_related("patient").all())
    for attendee in attendees:
        if attendee.status not in ("expected", "confirmed", "arrived"):
            continue
        warning = authorization_warning(
            patient=attendee.patient, cpt=cpt, on=appointment.starts_at, exclude_appointment_id=appointment.pk
        )
        if warning:
            out.append(f"{attendee.patient.display_name}: {warning}" if len(attendees) > 1 else warning)
    return out


# --- Set-up lists ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    code: str
    title: str
    severity: str
    source: str
    is_enabled: bool
    severity_override: str


def scrub_rules() -> list:
    """The scrubber's rule catalog (billing.scrubbing.RULES, helper B3), or [] until it exists."""
    try:
        from billing.scrubbing import RULES
    except ImportError:
        return []
    rules = RULES.values() if isinstance(RULES, dict) else RULES
    return sorted(rules, key=lambda r: r.code)


def rule_rows(*, payer: Payer | None) -> list[RuleRow]:
    """Every rule with its setting for the practice (payer None) or one payer (one query)."""
    settings = {s.rule_code: s for s in ScrubRuleSetting.objects.filter(payer=payer)}
    rows = []
    for rule in scrub_rules():
        s = settings.get(rule.code)
        rows.append(
            RuleRow(
                code=rule.code,
                title=getattr(rule, "title", ""),
                severity=str(getattr(rule, "severity", "")),
                source=getattr(rule, "source", ""),
                is_enabled=s.is_enabled if s else True,
                severity_override=s.severity if s else "",
            )
        )
    return rows
