"""Reads for the AR dashboard and the revenue-leakage report (issue 7): the KPI bundle from
billing.metrics, server-side SVG geometry for the trend line and the stacked aging bars (the
assessments/charts.py approach: numbers here, <polyline>/<rect> with classes in the template, no
inline style), and the five leakage lists with their money at stake.

Bounded queries: a fixed number per page whatever the data size; lists are capped at LIST_LIMIT.
Call inside a practice scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing import ar_rollup, metrics
from billing.ledger import cents_to_money
from billing.models import Charge, Claim, DenialCase, FeeSchedule, FeeScheduleEntry, RemittanceClaim

LIST_LIMIT = 50
UNBILLED_DAYS = 7  # brief: charges not on a claim > 7 days
NO_RESPONSE_DAYS = 30  # brief: claims with no response after 30 days
DENIAL_IDLE_DAYS = 14  # brief: denials not worked in 14 days
NOTE_CAPTURE_GRACE = timedelta(days=1)  # charge capture runs on signing and every 10 minutes
AWAITING_RESPONSE = (Claim.Status.SUBMITTED, Claim.Status.ACCEPTED)


# --- Charts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass
class Series:
    key: str
    label: str
    points: str  # SVG polyline "x,y x,y"
    last: Decimal


@dataclass
class TrendChart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    series: list[Series] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)

    @property
    def bottom(self) -> int:
        return self.top + self.plot_height

    @property
    def right(self) -> int:
        return self.left + self.plot_width


def _nice_max(value: Decimal) -> Decimal:
    if value <= 0:
        return Decimal(100)
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def trend_chart(months: list[metrics.MonthRow], *, width: int = 640, height: int = 220) -> TrendChart:
    """Three lines (charges, payments, adjustments) over the months, oldest first."""
    left, top, right_pad, bottom_pad = 64, 10, 10, 28
    pw, ph = width - left - right_pad, height - top - bottom_pad
    chart = TrendChart(width, height, left, top, pw, ph)
    if not months:
        return chart
    high = _nice_max(max(max(m.charges, m.payments, m.adjustments) for m in months))
    step = pw / max(len(months) - 1, 1)

    def y_of(value: Decimal) -> float:
        value = max(value, Decimal(0))
        return round(top + ph - float(value / high) * ph, 1)

    for key, label in (("charges", "Charges"), ("payments", "Payments"), ("adjustments", "Adjustments")):
        points = " ".join(f"{round(left + i * step, 1)},{y_of(getattr(m, key))}" for i, m in enumerate(months))
        chart.series.append(Series(key, label, points, getattr(months[-1], key)))
    chart.x_ticks = [Tick(round(left + i * step, 1), m.month.strftime("%b %y")) for i, m in enumerate(months)]
    chart.y_ticks = [Tick(y_of(high * k / 4), f"${high * k / 4:,.0f}") for k in range(5)]
    return chart


@dataclass(frozen=True)
class BarSegment:
    x: float
    width: float
    level: int  # 0..4 = bucket index (colour class)
    bucket: str
    amount: Decimal


@dataclass
class Bar:
    label: str
    y: float
    total: Decimal
    segments: list[BarSegment]


@dataclass
class AgingBars:
    width: int
    height: int
    left: int
    plot_width: int
    bar_height: int
    bars: list[Bar]


def aging_bars(aging: metrics.Aging, *, width: int = 640, max_rows: int = 8) -> AgingBars:
    """One horizontal stacked bar per payer (largest first) plus the patient row; segments are the
    buckets 0-30 .. 120+, scaled to the largest row. Negative (credit) buckets are not drawn."""
    rows = [r for r in aging.by_payer if r.total > 0][:max_rows]
    if aging.patient.total > 0:
        rows.append(aging.patient)
    left, bar_height, gap = 160, 18, 8
    pw = width - left - 80
    high = max((sum((v for v in r.values if v > 0), Decimal(0)) for r in rows), default=Decimal(0))
    bars = []
    for i, row in enumerate(rows):
        x = float(left)
        segments = []
        for level, (bucket, amount) in enumerate(zip(metrics.BUCKET_LABELS, row.values, strict=True)):
            if amount <= 0 or high <= 0:
                continue
            w = round(float(amount / high) * pw, 1)
            segments.append(BarSegment(round(x, 1), w, level, bucket, amount))
            x += w
        bars.append(Bar(row.label, i * (bar_height + gap), row.total, segments))
    return AgingBars(width, max(len(bars) * (bar_height + gap), bar_height), left, pw, bar_height, bars)


# --- Dashboard bundle ----------------------------------------------------------------------------


@dataclass
class Dashboard:
    as_of: date
    start: date
    end: date
    totals: metrics.ARTotals
    days_in_ar: Decimal | None
    aging: metrics.Aging
    denial: metrics.Ratio
    first_pass: metrics.Ratio
    clean_claims: metrics.Ratio
    net_collection: metrics.NetCollection
    months: list[metrics.MonthRow]
    by_payer: list[metrics.BreakdownRow]
    by_clinician: list[metrics.BreakdownRow]
    trend: TrendChart
    bars: AgingBars
    figures_computed_at: datetime | None = None  # None: computed for this request


PERIODS = (("30", "Last 30 days"), ("90", "Last 90 days"), ("180", "Last 6 months"), ("365", "Last 12 months"))
DEFAULT_PERIOD = "90"


@dataclass
class LedgerFigures:
    """The dashboard's figures that aggregate the whole ledger and every remittance: seconds at a
    500,000-claim practice, so beat computes today's windows ahead (`ledger_figures_store`) and the
    page shows them with their time. The aging and totals beside them are always live."""

    denial: metrics.Ratio
    first_pass: metrics.Ratio
    clean_claims: metrics.Ratio
    net_collection: metrics.NetCollection
    months: list[metrics.MonthRow]
    by_payer: list[metrics.BreakdownRow]
    by_clinician: list[metrics.BreakdownRow]
    computed_at: datetime


def ledger_figures(*, as_of: date, start: date, end: date) -> LedgerFigures:
    return LedgerFigures(
        denial=metrics.denial_rate(start=start, end=end),
        first_pass=metrics.first_pass_resolution_rate(start=start, end=end),
        clean_claims=metrics.clean_claim_rate(start=start, end=end),
        net_collection=metrics.net_collection_rate(as_of=as_of),
        months=metrics.monthly(as_of=as_of),
        by_payer=metrics.by_payer(start=start, end=end, as_of=as_of),
        by_clinician=metrics.by_clinician(start=start, end=end, as_of=as_of),
        computed_at=timezone.now(),
    )


def _figures_key(practice_id: int, as_of: date, start: date, end: date) -> str:
    return f"billing:ar-figures:{practice_id}:{as_of.isoformat()}:{start.isoformat()}:{end.isoformat()}"


def ledger_figures_store(*, practice_id: int, as_of: date, start: date, end: date) -> LedgerFigures:
    """Compute and keep the figures of one window (beat: today's windows). Kept a day: the key
    holds the as-of date, so tomorrow's page never reads today's figures."""
    figures = ledger_figures(as_of=as_of, start=start, end=end)
    cache.set(_figures_key(practice_id, as_of, start, end), figures, timeout=int(timedelta(days=1).total_seconds()))
    return figures


def ledger_figures_stored(*, practice_id: int, as_of: date, start: date, end: date) -> LedgerFigures | None:
    return cache.get(_figures_key(practice_id, as_of, start, end))


def window(as_of: date, period: str) -> tuple[date, date]:
    return as_of - timedelta(days=int(period) - 1), as_of


def ar_dashboard(*, as_of: date, start: date, end: date, practice_id: int | None = None) -> Dashboard:
    """With `practice_id`, the whole-ledger figures come from beat's computation of that window when
    there is one (see LedgerFigures); otherwise, and for any other window, they are computed now."""
    figures = None
    if practice_id is not None:
        figures = ledger_figures_stored(practice_id=practice_id, as_of=as_of, start=start, end=end)
    with ar_rollup.one_read():
        return _ar_dashboard(as_of=as_of, start=start, end=end, figures=figures)


def _ar_dashboard(*, as_of: date, start: date, end: date, figures: LedgerFigures | None) -> Dashboard:
    aging = metrics.aging(as_of=as_of)
    stored = figures is not None
    if figures is None:
        figures = ledger_figures(as_of=as_of, start=start, end=end)
    return Dashboard(
        as_of=as_of,
        start=start,
        end=end,
        totals=metrics.ar_totals(as_of=as_of),
        days_in_ar=metrics.days_in_ar(as_of=as_of),
        aging=aging,
        denial=figures.denial,
        first_pass=figures.first_pass,
        clean_claims=figures.clean_claims,
        net_collection=figures.net_collection,
        months=figures.months,
        by_payer=figures.by_payer,
        by_clinician=figures.by_clinician,
        trend=trend_chart(figures.months),
        bars=aging_bars(aging),
        figures_computed_at=figures.computed_at if stored else None,
    )


# --- Revenue leakage -----------------------------------------------------------------------------


@dataclass
class LeakItem:
    when: date
    patient: object
    what: str
    amount: Decimal | None
    url_name: str
    url_kwargs: dict


@dataclass
class LeakSection:
    key: str
    title: str
    help: str
    count: int
    amount: Decimal
    items: list[LeakItem]


def _self_pay_fees(today: date) -> dict[str, int]:
    """CPT -> cents from the self-pay fee schedules in force (modifier-less entries, newest wins):
    the money at stake for work not yet charged is estimated at the practice's own fee."""
    fees: dict[str, int] = {}
    for entry in (
        FeeScheduleEntry.objects.filter(
            schedule__kind=FeeSchedule.Kind.SELF_PAY,
            schedule__is_active=True,
            schedule__effective_from__lte=today,
            modifier="",
        )
        .order_by("schedule__effective_from", "id")
        .values("cpt", "amount_cents")
    ):
        fees[entry["cpt"]] = entry["amount_cents"]
    return fees


def _fee(fees: dict[str, int], cpt: str) -> Decimal | None:
    return cents_to_money(fees[cpt]) if cpt in fees else None


def _at_stake(fees: dict[str, int], counts_by_cpt) -> Decimal:
    return sum((cents_to_money(fees.get(r["cpt"] or "", 0)) * r["n"] for r in counts_by_cpt), Decimal("0.00"))


def revenue_leakage(*, now=None) -> list[LeakSection]:
    from clinical.models import ProgressNote
    from scheduling.models import Appointment, Attendee

    now = now or timezone.now()
    today = timezone.localdate(now)
    fees = _self_pay_fees(today)
    sections: list[LeakSection] = []

    # 1. Completed appointments whose attendee has no signed note.
    visits = Attendee.objects.filter(
        appointment__status=Appointment.Status.COMPLETED,
        appointment__starts_at__lt=now,
        status__in=Attendee.ACTIVE_STATUSES,
    ).filter(Q(progress_note__isnull=True) | ~Q(progress_note__status=ProgressNote.Status.SIGNED))
    by_cpt = visits.values(cpt=F("appointment__appointment_type__default_service_code")).annotate(n=Count("id"))
    items = [
        LeakItem(
            when=timezone.localdate(a.appointment.starts_at),
            patient=a.patient,
            what=f"{a.appointment.appointment_type.name} with {a.appointment.clinician.user.display_name}",
            amount=_fee(fees, a.appointment.appointment_type.default_service_code),
            url_name="appointment_detail",
            url_kwargs={"appointment_id": a.appointment.public_id},
        )
        for a in visits.select_related(
            "patient", "appointment__appointment_type", "appointment__clinician__user"
        ).order_by("appointment__starts_at", "id")[:LIST_LIMIT]
    ]
    sections.append(
        LeakSection(
            "unsigned",
            "Completed appointments without a signed note",
            "A completed session cannot be billed until its note is signed (and co-signed for "
            "pre-licensed clinicians). Money at stake: the self-pay fee of the appointment type's service.",
            sum(r["n"] for r in by_cpt),
            _at_stake(fees, by_cpt),
            items,
        )
    )

    # 2. Signed billable notes with no (non-void) charge.
    charged = Charge.objects.filter(note_id=OuterRef("pk")).exclude(status=Charge.Status.VOID)
    notes = ProgressNote.objects.filter(
        status=ProgressNote.Status.SIGNED, signed_at__lt=now - NOTE_CAPTURE_GRACE
    ).exclude(service_code="")
    notes = notes.filter(~Exists(charged))
    by_cpt = notes.values(cpt=F("service_code")).annotate(n=Count("id"))
    items = [
        LeakItem(
            when=note.session_on,
            patient=note.patient,
            what=f"CPT {note.service_code} by {note.author.user.display_name}",
            amount=_fee(fees, note.service_code),
            url_name="patient_chart",
            url_kwargs={"patient_id": note.patient.public_id},
        )
        for note in notes.select_related("patient", "author__user").order_by("session_on", "id")[:LIST_LIMIT]
    ]
    sections.append(
        LeakSection(
            "uncharged",
            "Signed notes without a charge",
            "Signed over a day ago with a service code, but no charge was captured (charge capture "
            "runs when a note is signed and every 10 minutes). Money at stake: the self-pay fee of the note's CPT.",
            sum(r["n"] for r in by_cpt),
            _at_stake(fees, by_cpt),
            items,
        )
    )

    # 3. Insurance charges not on a claim after UNBILLED_DAYS.
    unbilled = Charge.objects.filter(
        kind=Charge.Kind.INSURANCE,
        status=Charge.Status.UNBILLED,
        service_date__lt=today - timedelta(days=UNBILLED_DAYS),
    )
    agg = unbilled.aggregate(n=Count("id"), cents=Sum("fee_cents"))
    items = [
        LeakItem(c.service_date, c.patient, f"CPT {c.cpt}", cents_to_money(c.fee_cents), "charge_list", {})
        for c in unbilled.select_related("patient").order_by("service_date", "id")[:LIST_LIMIT]
    ]
    sections.append(
        LeakSection(
            "unbilled",
            f"Charges not on a claim after {UNBILLED_DAYS} days",
            "Insurance charges still unbilled a week after the date of service. Money at stake: the charge amount.",
            agg["n"],
            cents_to_money(agg["cents"] or 0),
            items,
        )
    )

    # 4. Submitted claims with no remittance after NO_RESPONSE_DAYS.
    quiet = Claim.objects.filter(
        status__in=AWAITING_RESPONSE, submitted_at__lt=now - timedelta(days=NO_RESPONSE_DAYS)
    ).filter(~Exists(RemittanceClaim.objects.filter(claim_id=OuterRef("pk"))))
    agg = quiet.aggregate(n=Count("id"), cents=Sum("total_cents"))
    items = [
        LeakItem(
            timezone.localdate(c.submitted_at),
            c.patient,
            f"Claim {c.control_number} to {c.payer.name}",
            cents_to_money(c.total_cents),
            "claim_detail",
            {"claim_id": c.public_id},
        )
        for c in quiet.select_related("patient", "payer").order_by("submitted_at", "id")[:LIST_LIMIT]
    ]
    sections.append(
        LeakSection(
            "no_response",
            f"Claims with no response after {NO_RESPONSE_DAYS} days",
            "Submitted or accepted claims with no 835 remittance 30 days after submission: check "
            "their status with the payer. Money at stake: the claim total.",
            agg["n"],
            cents_to_money(agg["cents"] or 0),
            items,
        )
    )

    # 5. Open denials not worked in DENIAL_IDLE_DAYS.
    idle = DenialCase.objects.annotate(worked=Coalesce("last_worked_at", "created_at")).filter(
        status=DenialCase.Status.OPEN, worked__lt=now - timedelta(days=DENIAL_IDLE_DAYS)
    )
    agg = idle.aggregate(n=Count("id"), amount=Sum("amount"))
    items = [
        LeakItem(
            timezone.localdate(d.worked),
            d.claim.patient,
            f"{d.reason_code} on claim {d.claim.control_number}",
            d.amount,
            "claim_detail",
            {"claim_id": d.claim.public_id},
        )
        for d in idle.select_related("claim__patient").order_by("worked", "id")[:LIST_LIMIT]
    ]
    sections.append(
        LeakSection(
            "idle_denials",
            f"Denials not worked in {DENIAL_IDLE_DAYS} days",
            "Open denial cases with no note, assignment or action for 14 days. Money at stake: the denied amount.",
            agg["n"],
            agg["amount"] or Decimal("0.00"),
            items,
        )
    )
    return sections
