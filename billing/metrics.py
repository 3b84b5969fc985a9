"""A/R and revenue-cycle KPIs computed from the ledger, claim and remittance tables (issue 7).

Every function runs a fixed number of SQL aggregates (bounded queries whatever the data size) and
must be called inside a practice scope. Formulas and sources are billing.md §6; each is repeated in
the AR dashboard's help text.

Money is Decimal throughout; rates are Decimal percentages (0-100) or None when the denominator
is zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DateField, Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Cast, Coalesce, TruncMonth

from billing.models import (
    Charge,
    Claim,
    ClaimEvent,
    ClaimLine,
    DenialCase,
    LedgerAccount,
    LedgerEntry,
    RemittanceClaim,
    RemittanceLine,
)

ZERO = Decimal("0.00")
AR_ACCOUNTS = (LedgerAccount.INSURANCE_AR, LedgerAccount.PATIENT_AR)
ADJUSTMENT_ACCOUNTS = (LedgerAccount.CONTRACTUAL, LedgerAccount.OTHER_ADJUSTMENT, LedgerAccount.WRITE_OFF)
DAYS_IN_AR_WINDOW = 90  # billing.md §6: "use 90 days to smooth seasonality" (MGMA)
NCR_LAG_DAYS = 90  # billing.md §6: DOS cohort with >= 90-120 days of lag (MGMA)
REVERSAL_CLP02 = "22"  # billing.md §4: CLP02 22 = reversal; never a "first remit"
# Aging buckets (MGMA; billing.md §6): 0-30, 31-60, 61-90, 91-120, >120 days.
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-120", 91, 120),
    ("120+", 121, None),
)
BUCKET_LABELS = tuple(label for label, _, _ in BUCKETS)
# First-remit outcomes that resolve a claim on the first pass (paid, moved to patient, or paid
# and forwarded to the secondary as a crossover, CLP02 19).
RESOLVED_OUTCOMES = (
    RemittanceClaim.Outcome.PAID,
    RemittanceClaim.Outcome.PATIENT_RESPONSIBILITY,
    RemittanceClaim.Outcome.FORWARDED,
)


def rate(numerator: int | Decimal, denominator: int | Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.1"))


def bucket_for(age_days: int) -> str:
    """The aging bucket of an age in days (negative ages, future-dated, count as current)."""
    for label, _low, high in BUCKETS:
        if high is None or age_days <= high:
            return label
    return BUCKETS[-1][0]


def _sum(queryset, expression=None) -> Decimal:
    return queryset.aggregate(total=Sum(expression or "amount"))["total"] or ZERO


# --- Totals --------------------------------------------------------------------------------------


@dataclass
class ARTotals:
    insurance: Decimal
    patient: Decimal

    @property
    def total(self) -> Decimal:
        return self.insurance + self.patient


def ar_totals(*, as_of: date) -> ARTotals:
    """Total A/R = insurance_ar + patient_ar ledger sums at the as-of date (billing.md §6 notes);
    from the aging cells (billing.ar_rollup) when they cover the as-of date."""
    from billing import ar_rollup

    rolled = ar_rollup.rolled_up_ar_totals(as_of=as_of)
    if rolled is not None:
        return rolled
    row = LedgerEntry.objects.filter(account__in=AR_ACCOUNTS, occurred_on__lte=as_of).aggregate(
        insurance=Sum("amount", filter=Q(account=LedgerAccount.INSURANCE_AR)),
        patient=Sum("amount", filter=Q(account=LedgerAccount.PATIENT_AR)),
    )
    return ARTotals(insurance=row["insurance"] or ZERO, patient=row["patient"] or ZERO)


def gross_charges(*, start: date, end: date) -> Decimal:
    """Gross charges posted between two dates (inclusive): the charges account is credited (-)."""
    return -_sum(LedgerEntry.objects.filter(account=LedgerAccount.CHARGES, occurred_on__range=(start, end)))


def days_in_ar(*, as_of: date, window: int = DAYS_IN_AR_WINDOW) -> Decimal | None:
    """Days in A/R (gross, MGMA): total A/R ÷ (gross charges of the last `window` days ÷ window)."""
    charges = gross_charges(start=as_of - timedelta(days=window - 1), end=as_of)
    if charges <= 0:
        return None
    total = ar_totals(as_of=as_of).total
    return (total / (charges / window)).quantize(Decimal("0.1"))


# --- Aging ---------------------------------------------------------------------------------------


@dataclass
class AgingRow:
    key: object
    label: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: {b: ZERO for b in BUCKET_LABELS})

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def values(self) -> list[Decimal]:
        return [self.buckets[b] for b in BUCKET_LABELS]


@dataclass
class Aging:
    by_payer: list[AgingRow]
    patient: AgingRow
    total: AgingRow
    by_patient: list[AgingRow] = field(default_factory=list)  # patient balances, largest first (top N)

    @property
    def over_90_percent(self) -> Decimal | None:
        """Aged A/R > 90 days ÷ total A/R (HFMA MAP AR-1)."""
        over = self.total.buckets["91-120"] + self.total.buckets["120+"]
        return rate(over, self.total.total)


def aging(*, as_of: date, top_patients: int = 20) -> Aging:
    """A/R aging at the as-of date (MGMA; billing.md §6).

    Insurance balances age from the first submission date of the first claim carrying the charge
    (not re-aged on resubmission); a balance not yet submitted ages from its date of service.
    Patient balances age from the charge's date of service. Balances are ledger sums per charge,
    so the buckets add up to total A/R.

    Read from the pre-aggregated cells (billing.ar_rollup) when they cover the as-of date, else
    computed from the ledger; both give the same figures.
    """
    from billing import ar_rollup

    rolled = ar_rollup.rolled_up_aging(as_of=as_of, top_patients=top_patients)
    return rolled if rolled is not None else live_aging(as_of=as_of, top_patients=top_patients)


def live_aging(*, as_of: date, top_patients: int = 20) -> Aging:
    entries = LedgerEntry.objects.filter(account__in=AR_ACCOUNTS, occurred_on__lte=as_of)
    return aging_from_items(aging_items(aging_groups(entries)), as_of=as_of, top_patients=top_patients)


@dataclass(frozen=True)
class AgingItem:
    """A balance placed in the aging: its account, payer (insurance) or patient (patient
    responsibility), the date it ages from. `is_open`: an insurance balance not yet on a submitted
    claim, whose aging date (and payer) a later submission still changes."""

    account: str
    payer_id: int | None
    patient_id: int | None
    start: date
    amount: Decimal
    groups: int = 1
    is_open: bool = False


def aging_groups(entries) -> list[dict]:
    """A/R ledger sums per charge (or claim) and the keys the aging places them by."""
    return list(
        entries.annotate(
            charge_key=Coalesce("charge_id", "claim_line__charge_id"),
            dos=Coalesce("charge__service_date", "claim_line__service_date", "claim__service_date", "occurred_on"),
            payer_key=Coalesce("payer_id", "claim__payer_id", "charge__coverage__payer_id"),
            patient_key=Coalesce("patient_id", "charge__patient_id", "claim__patient_id"),
        )
        .values("account", "charge_key", "claim_id", "payer_key", "patient_key", "dos")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
    )


def aging_items(rows: list[dict]) -> list[AgingItem]:
    """Resolve each group's payer and aging date (first submissions, merged charges)."""
    charge_ids = {r["charge_key"] for r in rows if r["charge_key"] and r["account"] == LedgerAccount.INSURANCE_AR}
    first_submitted: dict[int, date] = {}
    first_payer: dict[int, int] = {}
    for line in (
        ClaimLine.objects.filter(charge_id__in=charge_ids, claim__submitted_at__isnull=False)
        .values("charge_id", "claim__submitted_at", "claim__payer_id")
        .order_by("claim__submitted_at", "claim_id")
    ):
        if line["charge_id"] not in first_submitted:
            first_submitted[line["charge_id"]] = line["claim__submitted_at"].date()
            first_payer[line["charge_id"]] = line["claim__payer_id"]
    _merged_charge_submissions(charge_ids - set(first_submitted), first_submitted, first_payer)
    claim_ids = {r["claim_id"] for r in rows if r["claim_id"] and not r["charge_key"]}
    claim_submitted = {
        c["id"]: c["submitted_at"].date()
        for c in Claim.objects.filter(id__in=claim_ids, submitted_at__isnull=False).values("id", "submitted_at")
    }
    items = []
    for r in rows:
        if r["account"] == LedgerAccount.INSURANCE_AR:
            submitted = first_submitted.get(r["charge_key"])
            start = submitted or claim_submitted.get(r["claim_id"]) or r["dos"]
            settled = submitted is not None or (
                not r["charge_key"] and (not r["claim_id"] or r["claim_id"] in claim_submitted)
            )
            payer_id = r["payer_key"] or first_payer.get(r["charge_key"])
            items.append(AgingItem(r["account"], payer_id, None, start, r["total"], is_open=not settled))
        else:
            items.append(AgingItem(r["account"], None, r["patient_key"], r["dos"], r["total"]))
    return items


def largest_first(row: AgingRow) -> tuple:
    """Largest balance first; equal balances in patient id order (the same page after page)."""
    return (-row.total, row.key is None, row.key or 0)


def aging_from_items(items, *, as_of: date, top_patients: int = 20, by_patient: list[AgingRow] | None = None) -> Aging:
    """Bucket the items at the as-of date. `by_patient` given: the patient rows are already made
    (the rollup reads them per patient in SQL) and patient items only feed the totals."""
    from billing.models import Payer

    payers: dict[int | None, AgingRow] = {}
    patient = AgingRow(key="patient", label="Patient responsibility")
    patients: dict[int | None, AgingRow] = {}
    total = AgingRow(key="total", label="Total")
    for item in items:
        label = bucket_for((as_of - item.start).days)
        if item.account == LedgerAccount.INSURANCE_AR:
            row = payers.setdefault(item.payer_id, AgingRow(key=item.payer_id, label=""))
        else:
            row = patient
            if by_patient is None:
                one = patients.setdefault(item.patient_id, AgingRow(key=item.patient_id, label=""))
                one.buckets[label] += item.amount
        row.buckets[label] += item.amount
        total.buckets[label] += item.amount
    names = dict(Payer.objects.filter(id__in=[k for k in payers if k]).values_list("id", "name"))
    for key, row in payers.items():
        row.label = names.get(key, "Unknown payer")
    by_payer = sorted(payers.values(), key=lambda r: (-r.total, r.label))
    if by_patient is None:
        by_patient = sorted((r for r in patients.values() if r.total > 0), key=largest_first)[:top_patients]
    from clinical.models import Patient

    people = {p.id: p for p in Patient.objects.filter(id__in=[r.key for r in by_patient if r.key])}
    for row in by_patient:
        person = people.get(row.key)
        row.label = person.display_name if person else "Unknown patient"
        row.key = person.public_id if person else None
    return Aging(by_payer=by_payer, patient=patient, total=total, by_patient=by_patient)


def _merged_charge_submissions(charge_ids: set, first_submitted: dict, first_payer: dict) -> None:
    """Charges merged into another charge's claim line (96127 units, services_claims.MERGED_CPTS)
    are on no line of their own: they age with the line of the same patient, date and code."""
    if not charge_ids:
        return
    merged = list(
        Charge.objects.filter(id__in=charge_ids, status=Charge.Status.ON_CLAIM).values(
            "id", "patient_id", "service_date", "cpt"
        )
    )
    if not merged:
        return
    lines = (
        ClaimLine.objects.filter(
            claim__patient_id__in={c["patient_id"] for c in merged},
            service_date__in={c["service_date"] for c in merged},
            cpt__in={c["cpt"] for c in merged},
            claim__submitted_at__isnull=False,
        )
        .values("claim__patient_id", "service_date", "cpt", "claim__submitted_at", "claim__payer_id")
        .order_by("claim__submitted_at", "claim_id")
    )
    first: dict[tuple, tuple] = {}
    for line in lines:
        key = (line["claim__patient_id"], line["service_date"], line["cpt"])
        first.setdefault(key, (line["claim__submitted_at"].date(), line["claim__payer_id"]))
    for charge in merged:
        found = first.get((charge["patient_id"], charge["service_date"], charge["cpt"]))
        if found:
            first_submitted[charge["id"]], first_payer[charge["id"]] = found


# --- Claim outcome rates ------------------------------------------------------------------------


def _first_remits():
    """RemittanceClaims that are the first non-reversal remit of an original claim (billing.md §6:
    'initial denial means the first 835 outcome for the claim version with CLP02 != 22'). Replacement
    claims (frequency 7/8) are left out so a claim counts once, on its first remit."""
    earlier = RemittanceClaim.objects.filter(claim_id=OuterRef("claim_id")).exclude(status_code=REVERSAL_CLP02)
    earlier = earlier.filter(
        Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id"))
    )
    return (
        RemittanceClaim.objects.filter(claim__isnull=False, claim__original__isnull=True)
        .exclude(status_code=REVERSAL_CLP02)
        .annotate(
            remit_on=Coalesce("remittance__payment_date", Cast("created_at", DateField())),
            denied_line=Exists(RemittanceLine.objects.filter(remittance_claim_id=OuterRef("pk"), is_denied=True)),
        )
        .filter(~Exists(earlier))
    )


@dataclass
class Ratio:
    numerator: int
    denominator: int

    @property
    def percent(self) -> Decimal | None:
        return rate(self.numerator, self.denominator)


def denial_rate(*, start: date, end: date) -> Ratio:
    """Initial denial rate (HFMA Claim Integrity Task Force, remit basis): claims with >= 1 denial
    on their first remit ÷ claims whose first remit falls in the period. A denial is a denied
    outcome or a denied service line (billing.md §4 'How to identify denials')."""
    row = (
        _first_remits()
        .filter(remit_on__range=(start, end))
        .aggregate(
            total=Count("id"),
            denied=Count("id", filter=Q(outcome=RemittanceClaim.Outcome.DENIED) | Q(denied_line=True)),
        )
    )
    return Ratio(row["denied"], row["total"])


def first_pass_resolution_rate(*, start: date, end: date) -> Ratio:
    """Claims paid or moved to patient responsibility on their first remit, with no denied line,
    no corrected/replacement claim and no appeal ÷ claims adjudicated (first remit) in the period
    (industry convention: OpsDog, Medonix; billing.md §6)."""
    corrected = Claim.objects.filter(original_id=OuterRef("claim_id"))
    appealed = DenialCase.objects.filter(
        claim_id=OuterRef("claim_id"), status__in=(DenialCase.Status.APPEALED, DenialCase.Status.RESUBMITTED)
    )
    row = (
        _first_remits()
        .filter(remit_on__range=(start, end))
        .annotate(corrected=Exists(corrected), appealed=Exists(appealed))
        .aggregate(
            total=Count("id"),
            resolved=Count(
                "id",
                filter=Q(outcome__in=RESOLVED_OUTCOMES, denied_line=False, corrected=False, appealed=False)
                & ~Q(claim__status=Claim.Status.APPEALED),
            ),
        )
    )
    return Ratio(row["resolved"], row["total"])


def clean_claim_rate(*, start: date, end: date) -> Ratio:
    """Clean-claim rate (HFMA MAP CL-1 as billing.md §6 defines it): claims whose first scrub had
    no error, with no 999/277CA rejection and no resubmission ÷ claims created in the period that
    entered the claim tool (were scrubbed). Replacement claims are resubmissions, not new claims."""
    first_scrub = ClaimEvent.objects.filter(claim_id=OuterRef("pk"), note__startswith="scrubbed:").order_by(
        "created_at", "id"
    )
    rejected = Exists(ClaimEvent.objects.filter(claim_id=OuterRef("pk"), to_status=Claim.Status.REJECTED))
    resubmitted = Exists(Claim.objects.filter(original_id=OuterRef("pk")))
    row = (
        Claim.objects.filter(original__isnull=True, created_at__date__range=(start, end))
        .annotate(first_scrub=Subquery(first_scrub.values("note")[:1]), rejected=rejected, resubmitted=resubmitted)
        .filter(first_scrub__isnull=False)
        .aggregate(
            total=Count("id"),
            clean=Count(
                "id",
                filter=Q(first_scrub__startswith="scrubbed: 0 errors", rejected=False, resubmitted=False),
            ),
        )
    )
    return Ratio(row["clean"], row["total"])


@dataclass
class NetCollection:
    cohort_start: date
    cohort_end: date
    payments: Decimal
    gross: Decimal
    contractual: Decimal

    @property
    def percent(self) -> Decimal | None:
        return rate(self.payments, self.gross - self.contractual)


def net_collection_rate(*, as_of: date, days: int = 90, lag: int = NCR_LAG_DAYS) -> NetCollection:
    """Net collection rate (MGMA adjusted FFS collection %): payments (less refunds) ÷ (gross
    charges - contractual adjustments) for the charges with a date of service in the `days`-long
    cohort ending `lag` days before the as-of date; ledger rows are tied to the cohort through
    their charge, claim line or claim, and counted up to the as-of date."""
    cohort_end = as_of - timedelta(days=lag)
    cohort_start = cohort_end - timedelta(days=days - 1)
    row = (
        LedgerEntry.objects.filter(occurred_on__lte=as_of)
        .annotate(dos=Coalesce("charge__service_date", "claim_line__service_date", "claim__service_date"))
        .filter(dos__range=(cohort_start, cohort_end))
        .aggregate(
            cash=Sum("amount", filter=Q(account=LedgerAccount.CASH)),
            charges=Sum("amount", filter=Q(account=LedgerAccount.CHARGES)),
            contractual=Sum("amount", filter=Q(account=LedgerAccount.CONTRACTUAL)),
        )
    )
    return NetCollection(
        cohort_start=cohort_start,
        cohort_end=cohort_end,
        payments=row["cash"] or ZERO,
        gross=-(row["charges"] or ZERO),
        contractual=row["contractual"] or ZERO,
    )


# --- Trends and breakdowns ---------------------------------------------------------------------


@dataclass
class MonthRow:
    month: date
    charges: Decimal = ZERO
    payments: Decimal = ZERO
    adjustments: Decimal = ZERO


def month_starts(as_of: date, months: int = 12) -> list[date]:
    year, month = as_of.year, as_of.month
    out = []
    for _ in range(months):
        out.append(date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(out))


def monthly(*, as_of: date, months: int = 12) -> list[MonthRow]:
    """Charges (gross), payments (cash received, net of refunds) and adjustments (contractual,
    other and write-offs) by month of posting, the last `months` months up to the as-of date."""
    starts = month_starts(as_of, months)
    result = {m: MonthRow(month=m) for m in starts}
    rows = (
        LedgerEntry.objects.filter(occurred_on__range=(starts[0], as_of))
        .annotate(month=TruncMonth("occurred_on"))
        .values("month")
        .annotate(
            charges=Sum("amount", filter=Q(account=LedgerAccount.CHARGES)),
            payments=Sum("amount", filter=Q(account=LedgerAccount.CASH)),
            adjustments=Sum("amount", filter=Q(account__in=ADJUSTMENT_ACCOUNTS)),
        )
    )
    for r in rows:
        month = r["month"].date() if hasattr(r["month"], "date") else r["month"]
        if month in result:
            result[month].charges = -(r["charges"] or ZERO)
            result[month].payments = r["payments"] or ZERO
            result[month].adjustments = r["adjustments"] or ZERO
    return list(result.values())


@dataclass
class BreakdownRow:
    key: object
    label: str
    charges: Decimal = ZERO
    payments: Decimal = ZERO
    adjustments: Decimal = ZERO
    ar: Decimal = ZERO


def _breakdown(*, key_expr, start: date, end: date, as_of: date) -> dict:
    rows = (
        LedgerEntry.objects.filter(occurred_on__lte=as_of)
        .annotate(key=key_expr)
        .values("key")
        .annotate(
            charges=Sum(
                "amount", filter=Q(account=LedgerAccount.CHARGES, occurred_on__range=(start, end)), default=ZERO
            ),
            payments=Sum("amount", filter=Q(account=LedgerAccount.CASH, occurred_on__range=(start, end)), default=ZERO),
            adjustments=Sum(
                "amount", filter=Q(account__in=ADJUSTMENT_ACCOUNTS, occurred_on__range=(start, end)), default=ZERO
            ),
            ar=Sum("amount", filter=Q(account__in=AR_ACCOUNTS), default=ZERO),
        )
    )
    out: dict = {}
    for r in rows:
        out[r["key"]] = BreakdownRow(
            key=r["key"],
            label="",
            charges=-r["charges"],
            payments=r["payments"],
            adjustments=r["adjustments"],
            ar=r["ar"],
        )
    return {k: v for k, v in out.items() if v.charges or v.payments or v.adjustments or v.ar}


def by_payer(*, start: date, end: date, as_of: date) -> list[BreakdownRow]:
    """Charges, payments, adjustments in the period and A/R at the as-of date by payer (no payer =
    self-pay / patient)."""
    from billing.models import Payer

    rows = _breakdown(
        key_expr=Coalesce("payer_id", "claim__payer_id", "charge__coverage__payer_id"),
        start=start,
        end=end,
        as_of=as_of,
    )
    names = dict(Payer.objects.filter(id__in=[k for k in rows if k]).values_list("id", "name"))
    for key, row in rows.items():
        row.label = names.get(key, "Unknown payer") if key else "Self-pay / patient"
    return sorted(rows.values(), key=lambda r: (-r.charges, r.label))


def by_clinician(*, start: date, end: date, as_of: date) -> list[BreakdownRow]:
    """The same by rendering clinician (the entry's, else its charge's, else its claim's)."""
    from practice.models import Membership

    rows = _breakdown(
        key_expr=Coalesce("rendering_id", "charge__rendering_id", "claim__rendering_id"),
        start=start,
        end=end,
        as_of=as_of,
    )
    members = Membership.objects.filter(id__in=[k for k in rows if k]).select_related("user")
    names = {m.id: _member_name(m) for m in members}
    for key, row in rows.items():
        row.label = names.get(key, "Unknown clinician") if key else "No clinician"
    return sorted(rows.values(), key=lambda r: (-r.charges, r.label))


def _member_name(member) -> str:
    user = getattr(member, "user", None)
    name = getattr(user, "display_name", None) or getattr(user, "email", None)
    return str(name or member)


# --- The AR home card --------------------------------------------------------------------------


@dataclass
class ARCard:
    total: Decimal
    days_in_ar: Decimal | None
    over_90_percent: Decimal | None
    denial_rate: Decimal | None


def ar_card(*, as_of: date) -> ARCard:
    """The practice home's A/R summary (aggregates only)."""
    from billing import ar_rollup

    with ar_rollup.one_read():
        return _ar_card(as_of=as_of)


def _ar_card(*, as_of: date) -> ARCard:
    agg = aging(as_of=as_of)
    return ARCard(
        total=agg.total.total,
        days_in_ar=days_in_ar(as_of=as_of),
        over_90_percent=agg.over_90_percent,
        denial_rate=denial_rate(start=as_of - timedelta(days=89), end=as_of).percent,
    )
