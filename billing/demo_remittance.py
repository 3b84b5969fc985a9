"""Demo billing history for `seed_demo` (after `seed_billing_claims`): a few months of claims
sent and paid, all through the real services (no ledger row is written here).

- Ready claims go out through `claims_export` in three 837 batches, sent on the Mondays about
  112, 77 and 31 days ago (the first takes Blue Cross claims, the second Medicaid too, the last
  every payer); ready claims from the last month stay ready for the biller's next export. The
  export stamps "now"; the demo then dates each submission (claim, submitted event, 837 file) to
  its Monday, the way the assessments demo dates its history, because A/R aging counts from the
  first submission (billing.md §6).
- Each payer answers a batch on its weekday some days later: one 835 per payer and batch,
  written with `billing.era_writer` and posted by `remittance_import` (BPR16 = the payment date,
  so the ledger is dated). Lines carry CO-45 (contract rate) and the patient's share: PR-3 copay
  on sessions, PR-2 coinsurance (Medicare 20 %, screening 96127 on the Blue Cross plan), PR-1
  deductible on the first two commercial claims.
- Two denials in the last batch: CO-197 + M62 (no prior authorization on file) on a claim to the
  payer that requires authorizations, CO-16 + N206 (information missing) on a Medicaid session;
  the CO-16 one is assigned to the biller with a note. One reversal (CLP02 = 22) with its
  correction in the payer's next 835. One claim of each batch gets no answer (aging buckets
  31-60, 61-90, 91-120 and the "no response" lists).
- Patient side: a card payment (`payment_record`) after an 835 moved money to a patient, a copay
  at check-in (`copay_collect`) on today's (or the latest) visit, one statement
  (`statement_issue`) for last month.

Idempotent: a practice with any remittance or statement is left alone. Cost: pyx12 validates each
file (~0.5 s), so the demo keeps to six 837s and six 835s.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from billing.era_writer import clp, era
from billing.ledger import cents_to_money, money
from billing.models import (
    BillingProfile,
    Claim,
    ClaimEvent,
    ClaimFile,
    Coverage,
    DenialCase,
    LedgerAccount,
    LedgerEntry,
    PatientPayment,
    Remittance,
    Statement,
)
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Role
from practice.scoping import practice_scope

logger = logging.getLogger(__name__)
ZERO = Decimal("0.00")
SESSION_CPTS = frozenset({"90791", "90792", "90832", "90834", "90837", "90846", "90847", "90853"})
# Demo contract rates (allowed ÷ billed) by claim filing indicator; not from any standard.
ALLOWED_SHARE = {"BL": Decimal("0.85"), "CI": Decimal("0.80"), "MB": Decimal("0.90"), "MC": Decimal("1.00")}
# Days from submission to the payer's payment run. Medicare may not pay a clean electronic claim
# before day 14 (the "payment floor", Social Security Act §1842(c)(3)(B)).
PAY_LAG_DAYS = {"BL": 17, "CI": 21, "MB": 14, "MC": 24}
PAY_WEEKDAY = {"BL": 1, "CI": 3, "MB": 2, "MC": 4}  # Tue, Thu, Wed, Fri
SCREENING_COINSURANCE = Decimal("0.20")  # demo plan design: 96127 at 20 % on the Blue Cross plan
# Three 837 batches, sent about this many days ago (then back to Monday): one unanswered claim
# in each lands in the 91-120, 61-90 and 31-60 aging buckets (MGMA buckets, billing.md §6).
BATCH_AGES = (112, 77, 31)
# Which payers' claims each batch carries (the first batch Blue Cross only, then Medicaid too,
# then all); a claim waits for the first batch after its date of service that takes its payer.
BATCH_PAYERS = ("BL", "MC", "CI")
AUTH_DENIAL = ("CO", "197", "M62")  # precertification absent; authorization number missing/invalid
INFO_DENIAL = ("CO", "16", "N206")  # claim lacks information; the payer needs more information


@dataclass
class _Plan:
    claim: Claim
    submit_on: date
    pay_on: date | None = None
    kind: str = "paid"  # paid | deductible | auth_denial | info_denial | unanswered | reversed


def _x12(text: str, size: int = 35) -> str:
    """Name and id text safe inside an X12 element (no separators)."""
    return re.sub(r"[^A-Z0-9 .'-]", "", (text or "").upper())[:size].strip() or "UNKNOWN"


def _at(day: date, tz: ZoneInfo, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz)


def _next_weekday(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _filing(claim: Claim) -> str:
    return claim.payer.filing_indicator or "CI"


# --- Sending the claims ------------------------------------------------------------------------


def _batch_days(today: date) -> list[date]:
    """The Mondays the demo's 837 batches went out (BATCH_AGES days ago, oldest first)."""
    return [_monday(today - timedelta(days=age)) for age in BATCH_AGES]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _submit(practice, today: date, tz: ZoneInfo) -> tuple[list[_Plan], int]:
    """The ready claims with a date of service before the last batch go out in the first batch
    after their date of service; later ones stay ready (the biller's next export)."""
    from billing.services_export import claims_export

    days = _batch_days(today)
    filings = [BATCH_PAYERS[: i + 1] for i in range(len(days))]
    ready = Claim.objects.filter(
        status=Claim.Status.READY,
        claim_file__isnull=True,
        original__isnull=True,
        coverage__priority=Coverage.Priority.PRIMARY,
        service_date__lt=days[-1],
    ).order_by("service_date", "id")
    batches: dict[date, list[int]] = defaultdict(list)
    for claim in ready.select_related("payer"):
        filing = _filing(claim)
        day = next((d for d, f in zip(days, filings, strict=True) if d > claim.service_date and filing in f), None)
        if day is None and filing not in BATCH_PAYERS:
            day = next(d for d in days if d > claim.service_date)
        if day is not None:
            batches[day].append(claim.pk)
    plans: list[_Plan] = []
    files = 0
    for day in sorted(batches):
        try:
            made = claims_export(practice=practice, by=None, claim_ids=batches[day])
        except DomainError as exc:
            logger.info("demo: export of %s skipped: %s", day, exc.message)
            continue
        when = _at(day, tz)
        for claim_file in made:
            if claim_file.status != ClaimFile.Status.RELEASED:
                continue
            files += 1
            ids = list(claim_file.claims.values_list("pk", flat=True))
            ClaimFile.objects.filter(pk=claim_file.pk).update(created_at=when)
            Claim.objects.filter(pk__in=ids).update(submitted_at=when, status_changed_at=when)
            ClaimEvent.objects.filter(claim_id__in=ids, to_status=Claim.Status.SUBMITTED).update(created_at=when)
            claims = Claim.objects.filter(pk__in=ids).select_related("payer", "coverage", "patient").order_by("pk")
            plans += [_Plan(claim=c, submit_on=day) for c in claims]
    return plans, files


# --- What each payer answers -------------------------------------------------------------------


def _plan(plans: list[_Plan], today: date) -> None:
    """Payment dates, then the special cases: one unanswered claim per batch, two denials in the
    last batch, the deductible on the first two commercial claims."""
    for p in plans:
        filing = _filing(p.claim)
        pay_on = _next_weekday(p.submit_on + timedelta(days=PAY_LAG_DAYS.get(filing, 21)), PAY_WEEKDAY.get(filing, 4))
        p.pay_on = pay_on if pay_on < today else None
    paid = [p for p in plans if p.pay_on]
    taken: set[int] = set()

    def pick(candidates: list[_Plan]) -> _Plan | None:
        candidates = [p for p in candidates if p.claim.pk not in taken]
        if not candidates:
            return None
        taken.add(candidates[0].claim.pk)
        return candidates[0]

    def cpts(p: _Plan) -> set[str]:
        return {line.cpt for line in p.claim.lines.all()}

    last = [p for p in paid if p.submit_on == max(x.submit_on for x in paid)] if paid else []
    auth = [p for p in last if p.claim.payer.auth_required_cpts]
    chosen = pick([p for p in auth if cpts(p) & set(p.claim.payer.auth_required_cpts)] + auth + last)
    if chosen:
        chosen.kind = "auth_denial"
    sessions = [p for p in last if cpts(p) & SESSION_CPTS]
    chosen = pick([p for p in sessions if _filing(p.claim) == "MC"] + sessions + last)
    if chosen:
        chosen.kind = "info_denial"
    for day in sorted({p.submit_on for p in paid}):
        batch = [p for p in paid if p.submit_on == day]
        # The largest payer's claim, so its 835 for the batch still comes.
        chosen = pick(sorted(batch, key=lambda p: (_filing(p.claim) != "BL", -p.claim.pk)))
        if chosen:
            chosen.kind, chosen.pay_on = "unanswered", None
    for _ in range(2):
        chosen = pick([p for p in paid if _filing(p.claim) in ("BL", "CI")])
        if chosen:
            chosen.kind = "deductible"


def _line_answer(line, *, claim: Claim, kind: str, share: Decimal, copay_left: Decimal):
    """(charge, paid, cas, rarcs, copay used) for one claim line."""
    charge = cents_to_money(line.charge_cents)
    if kind in ("auth_denial", "info_denial"):
        group, code, rarc = AUTH_DENIAL if kind == "auth_denial" else INFO_DENIAL
        return charge, ZERO, [(group, code, charge)], [rarc], ZERO
    allowed = money(charge * share)
    cas = [("CO", "45", charge - allowed)] if allowed < charge else []
    coverage = claim.coverage
    if kind == "deductible":
        patient = [("PR", "1", allowed)]
    elif line.cpt in SESSION_CPTS and copay_left > 0:
        patient = [("PR", "3", min(copay_left, allowed))]
    elif coverage.coinsurance_percent:
        patient = [("PR", "2", money(allowed * coverage.coinsurance_percent / 100))]
    elif line.cpt == "96127" and _filing(claim) == "BL":
        patient = [("PR", "2", money(allowed * SCREENING_COINSURANCE))]
    else:
        patient = []
    patient = [x for x in patient if x[2] > 0]
    owed = sum((x[2] for x in patient), ZERO)
    used = owed if patient and patient[0][1] == "3" else ZERO
    return charge, allowed - owed, cas + patient, [], used


def _clp(claim: Claim, *, kind: str, status: str = "1", share: Decimal | None = None, icn: str, sign: int = 1):
    """The CLP loop for a claim, and what it pays (negated for a reversal, sign = -1)."""
    share = ALLOWED_SHARE.get(_filing(claim), Decimal("0.80")) if share is None else share
    copay_left = cents_to_money(claim.coverage.copay_cents or 0)
    lines, total_charge, total_paid, total_patient = [], ZERO, ZERO, ZERO
    for line in claim.lines.all().order_by("line_number"):
        charge, paid, cas, rarcs, used = _line_answer(line, claim=claim, kind=kind, share=share, copay_left=copay_left)
        copay_left -= used
        code = ":".join([line.cpt, *(line.modifiers or [])])
        lines.append(
            (code, sign * charge, sign * paid, line.service_date, [(g, r, sign * a) for g, r, a in cas], rarcs)
        )
        total_charge += charge
        total_paid += paid
        total_patient += sum((a for g, _r, a in cas if g == "PR"), ZERO)
    patient = claim.patient
    block = clp(
        claim.control_number,
        status,
        sign * total_charge,
        sign * total_paid,
        sign * total_patient,
        icn=icn,
        lines=lines,
        patient=(_x12(patient.legal_last_name), _x12(patient.legal_first_name, 25)),
        member_id=_x12(claim.coverage.member_id, 50).replace(" ", "") or "UNKNOWN",
    )
    return block, sign * total_paid


def _icn(claim: Claim, suffix: str = "0") -> str:
    return f"{claim.service_date:%y%j}{claim.pk:07d}{suffix}"


def _payer_tin(payer_id: str) -> str:
    """TRN03: '1' + a 9-digit id derived from the payer id (one per demo payer)."""
    return "1" + str(int(hashlib.sha256(payer_id.encode()).hexdigest(), 16))[:9]


def _remit(practice, profile: BillingProfile, plans: list[_Plan], today: date) -> dict:
    """One 835 per payer and payment date, posted in date order; the reversal and its correction
    ride in the payer's next 835 after the claim was paid."""
    from billing.services_remittance import remittance_import

    runs: dict[tuple[int, date], list[_Plan]] = defaultdict(list)
    for p in plans:
        if p.pay_on and p.kind != "unanswered":
            runs[(p.claim.payer_id, p.pay_on)].append(p)
    reversal = _pick_reversal(runs)
    counts = {"remittances": 0, "claims_paid": 0, "denials": 0, "reversals": 0}
    for payer_id, pay_on in sorted(runs, key=lambda k: (k[1], k[0])):
        group = runs[(payer_id, pay_on)]
        payer = group[0].claim.payer
        blocks, total = [], ZERO
        for p in sorted(group, key=lambda p: p.claim.pk):
            block, paid = _clp(p.claim, kind=p.kind, icn=_icn(p.claim))
            blocks.append(block)
            total += paid
        if reversal and reversal[1] == (payer_id, pay_on):
            claim = reversal[0].claim
            back, paid_back = _clp(claim, kind=reversal[0].kind, status="22", icn=_icn(claim), sign=-1)
            # The payer re-prices the visit at its corrected contract rate (5 points lower).
            share = ALLOWED_SHARE.get(_filing(claim), Decimal("0.80")) - Decimal("0.05")
            again, paid_again = _clp(claim, kind=reversal[0].kind, share=share, icn=_icn(claim, "1"))
            blocks += [back, again]
            total += paid_back + paid_again
            counts["reversals"] += 1
        text = era(
            blocks,
            str(total),
            trace=f"{payer.payer_id[:6]}{pay_on:%Y%m%d}",
            payer_tin=_payer_tin(payer.payer_id),
            payer_name=_x12(payer.name, 60),
            payer_id=payer.payer_id,
            payee_name=_x12(profile.legal_name, 60),
            payee_npi=profile.npi,
            payee_tin=profile.tin,
            paid_on=pay_on,
        )
        result = remittance_import(
            practice=practice, content=text, filename=f"835-{payer.payer_id}-{pay_on:%Y%m%d}.txt"
        )
        if result.rejected:
            logger.warning("demo: 835 for payer %s on %s rejected: %s", payer.pk, pay_on, result.error)
            continue
        counts["remittances"] += 1
        counts["claims_paid"] += sum(1 for p in group if p.kind in ("paid", "deductible"))
        counts["denials"] += sum(1 for p in group if p.kind.endswith("_denial"))
        _date_history(result.remittance, pay_on)
    return counts


def _pick_reversal(runs: dict[tuple[int, date], list[_Plan]]):
    """(plan, run key): a claim paid in one payer run that has a later run of the same payer (the
    latest such pair, so the reversal is recent); the reversal and correction go in the later run."""
    by_payer: dict[int, list[date]] = defaultdict(list)
    for payer_id, pay_on in runs:
        by_payer[payer_id].append(pay_on)
    candidates = []
    for (payer_id, pay_on), group in runs.items():
        later = sorted(d for d in by_payer[payer_id] if d > pay_on)
        if later:
            candidates += [(later[0], -p.claim.pk, p, (payer_id, later[0])) for p in group if p.kind == "paid"]
    if not candidates:
        return None
    _, _, plan, key = max(candidates, key=lambda c: (c[0], c[1]))
    return plan, key


def _date_history(remittance: Remittance | None, pay_on: date) -> None:
    """The 835 arrived on its payment date: date the remittance, its denial cases and the claim
    events it caused to that day (the ledger is already dated by BPR16)."""
    if remittance is None:
        return
    tz = ZoneInfo(remittance.practice.timezone)
    when = _at(pay_on, tz, hour=14)
    Remittance.objects.filter(pk=remittance.pk).update(created_at=when)
    DenialCase.objects.filter(remittance_claim__remittance=remittance).update(created_at=when)
    claim_ids = list(remittance.claims.exclude(claim=None).values_list("claim_id", flat=True))
    ClaimEvent.objects.filter(claim_id__in=claim_ids, source="835", created_at__gt=when).update(created_at=when)


# --- Working the denial, patients paying --------------------------------------------------------


def _member(role: str, email_prefix: str = "") -> Membership | None:
    members = Membership.objects.filter(role=role, is_active=True).select_related("user").order_by("pk")
    if email_prefix:
        named = members.filter(user__email__startswith=email_prefix).first()
        if named is not None:
            return named
    return members.first()


def _work_denial() -> int:
    """The CO-16 denial is assigned to the biller, who notes what she is doing about it."""
    from billing.services_denials import denial_add_note, denial_assign

    biller = _member(Role.BILLER, "linda.nguyen@")
    manager = _member(Role.ADMIN) or _member(Role.OWNER)
    case = DenialCase.objects.filter(reason_code__endswith="-16", status=DenialCase.Status.OPEN).first()
    if case is None or biller is None or manager is None:
        return 0
    denial_assign(case=case, by=manager, assignee=biller)
    denial_add_note(
        case=case,
        by=biller,
        text=(
            "Called provider services: the supervising provider is missing for a pre-licensed "
            "clinician. Adding it and sending a corrected claim this week."
        ),
    )
    return 1


def _patient_payments(today: date) -> int:
    """A card payment from the patient who owes the most after the 835s, ten days after that 835."""
    from billing.services_patient_billing import payment_record

    owed = (
        LedgerEntry.objects.filter(account=LedgerAccount.PATIENT_AR, claim__isnull=False, amount__gt=0)
        .select_related("patient")
        .order_by("-amount", "occurred_on", "pk")
        .first()
    )
    if owed is None:
        return 0
    front_desk = _member(Role.FRONT_DESK)
    payment_record(
        patient=owed.patient,
        amount=owed.amount,
        method=PatientPayment.Method.CARD,
        reference="Visa ending 4242",
        received_on=min(owed.occurred_on + timedelta(days=10), today),
        by=front_desk,
        note="Paid by phone",
    )
    return 1


def _copay_at_check_in(today: date, tz: ZoneInfo) -> int:
    """The copay of today's first individual visit with a copay (else the latest past visit)."""
    from billing.services_patient_billing import copay_collect
    from scheduling.models import Appointment

    start_of_tomorrow = _at(today + timedelta(days=1), tz, hour=0)
    visits = (
        Appointment.objects.filter(
            starts_at__lt=start_of_tomorrow,
            status__in=(
                Appointment.Status.SCHEDULED,
                Appointment.Status.CONFIRMED,
                Appointment.Status.ARRIVED,
                Appointment.Status.COMPLETED,
            ),
            appointment_type__is_group=False,
        )
        .exclude(attendees__patient__coverages=None)
        .order_by("-starts_at", "-pk")
    )
    todays = [a for a in visits[:40] if timezone.localtime(a.starts_at, tz).date() == today]
    for appointment in sorted(todays, key=lambda a: a.starts_at) + list(visits[:40]):
        attendee = appointment.attendees.select_related("patient").first()
        if attendee is None:
            continue
        coverage = (
            Coverage.objects.filter(patient=attendee.patient, priority=Coverage.Priority.PRIMARY, copay_cents__gt=0)
            .order_by("pk")
            .first()
        )
        if coverage is None:
            continue
        copay_collect(
            appointment=appointment,
            patient=attendee.patient,
            amount=cents_to_money(coverage.copay_cents),
            method=PatientPayment.Method.CASH,
            by=_member(Role.FRONT_DESK),
        )
        return 1
    return 0


def _statement(today: date) -> int:
    """Last month's statement for the patient whose balance was largest at its end."""
    from billing.selectors_patient_billing import patient_balance
    from billing.services_patient_billing import statement_issue
    from clinical.models import Patient

    period_end = today.replace(day=1) - timedelta(days=1)
    owing = (
        LedgerEntry.objects.filter(account=LedgerAccount.PATIENT_AR, occurred_on__lte=period_end)
        .filter(Q(claim__isnull=False) | Q(charge__isnull=False))
        .values_list("patient_id", flat=True)
        .distinct()
    )
    best, most = None, ZERO
    for patient in Patient.objects.filter(pk__in=list(owing)).order_by("pk"):
        due = patient_balance(patient=patient, as_of=period_end)
        if due > most:
            best, most = patient, due
    if best is None:
        return 0
    statement_issue(patient=best, period_end=period_end, by=_member(Role.BILLER))
    return 1


def seed_billing_history(practice) -> dict:
    """Months of submissions, 835s, denials, a reversal and patient payments (module docstring).
    Returns counts for seed_demo's summary; all zero when the practice already has remittances or
    no billing set-up."""
    counts = {
        "submitted": 0,
        "files_837": 0,
        "remittances": 0,
        "claims_paid": 0,
        "denials": 0,
        "reversals": 0,
        "unanswered": 0,
        "patient_payments": 0,
        "statements": 0,
    }
    with practice_scope(practice):
        profile = BillingProfile.objects.first()
        if profile is None or Remittance.objects.exists() or Statement.objects.exists():
            return counts
        tz = ZoneInfo(practice.timezone)
        today = timezone.localdate(timezone.now(), tz)
        plans, counts["files_837"] = _submit(practice, today, tz)
        counts["submitted"] = len(plans)
        if not plans:
            return counts
        _plan(plans, today)
        counts["unanswered"] = sum(1 for p in plans if p.kind == "unanswered")
        counts |= _remit(practice, profile, plans, today)
        _work_denial()
        counts["statements"] = _statement(today)
        counts["patient_payments"] = _patient_payments(today) + _copay_at_check_in(today, tz)
    return counts
