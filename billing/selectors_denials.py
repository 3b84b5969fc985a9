"""Reads for the denials queue, one denial's page and the "no response" list. Each is a fixed
number of queries whatever its size."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db.models import Count, DateField, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from billing import carc
from billing.models import Claim, DenialCase, DenialNote, Payer, RemittanceLine

D = DenialCase.Status
OPEN_STATUSES = (D.OPEN, D.APPEALED, D.RESUBMITTED)

# A denial nobody has touched (no note, assignment or action) for this many days is flagged
# "not worked". Practice-wide constant for now (issue 7: "denials not worked in N days").
STALE_DAYS = 14
CENT = Decimal("0.01")

# "No response" threshold per payer: a quarter of its timely-filing window, capped at 45 days, so
# there is still time to chase the claim before the filing deadline (e.g. 180-day payer -> 45,
# 90-day payer -> 22). NO_RESPONSE_DAYS is used when a payer has no timely-filing window.
NO_RESPONSE_DAYS = 30
NO_RESPONSE_CAP = 45

AGE_FILTERS: dict[str, tuple[str, int, int | None]] = {
    "0-30": ("0–30 days", 0, 30),
    "31-60": ("31–60 days", 31, 60),
    "61-90": ("61–90 days", 61, 90),
    "90+": ("Over 90 days", 91, None),
}


def no_response_days(payer: Payer) -> int:
    if not payer.timely_filing_days:
        return NO_RESPONSE_DAYS
    return max(1, min(payer.timely_filing_days // 4, NO_RESPONSE_CAP))


@dataclass
class DenialFilters:
    group: str = ""  # carc.REASON_GROUPS key
    payer_id: str = ""  # Payer public_id
    assignee_id: str = ""  # Membership public_id, or "none"
    age: str = ""  # AGE_FILTERS key
    status: str = ""  # "" = every open status


def _group_q(group: str) -> Q:
    def ends(codes: list[str]) -> Q:
        return reduce(or_, (Q(reason_code__iendswith=f"-{c}") | Q(reason_code__iexact=c) for c in codes), Q(pk=None))

    if group == carc.OTHER:
        named = [c for g in carc.REASON_GROUPS if g != carc.OTHER for c in carc.codes_in_group(g)]
        return ~ends(named)
    return ends(carc.codes_in_group(group))


def _with_remit_date(qs: QuerySet[DenialCase]) -> QuerySet[DenialCase]:
    return qs.annotate(
        remit_date=Coalesce(
            "remittance_claim__remittance__payment_date",
            Cast("remittance_claim__remittance__created_at", DateField()),
        )
    )


def denial_queue_qs(filters: DenialFilters, *, today: date | None = None) -> QuerySet[DenialCase]:
    """Open denials (or the ones in `filters.status`), oldest remittance first, id as the tiebreak
    so pages are stable. Rows are plain: call `denial_rows` on the page shown."""
    today = today or timezone.localdate()
    qs = _with_remit_date(
        DenialCase.objects.select_related(
            "claim__patient",
            "claim__payer",
            "claim__rendering__user",
            "assigned_to__user",
            "remittance_claim__remittance",
        )
    )
    qs = qs.filter(status=filters.status) if filters.status in D.values else qs.filter(status__in=OPEN_STATUSES)
    if filters.group in carc.REASON_GROUPS:
        qs = qs.filter(_group_q(filters.group))
    if filters.payer_id:
        qs = qs.filter(claim__payer__public_id=filters.payer_id)
    if filters.assignee_id == "none":
        qs = qs.filter(assigned_to__isnull=True)
    elif filters.assignee_id:
        qs = qs.filter(assigned_to__public_id=filters.assignee_id)
    if filters.age in AGE_FILTERS:
        _, low, high = AGE_FILTERS[filters.age]
        qs = qs.filter(remit_date__lte=today - timedelta(days=low))
        if high is not None:
            qs = qs.filter(remit_date__gte=today - timedelta(days=high))
    return qs.order_by("remit_date", "created_at", "id")


@dataclass(frozen=True)
class DenialQueueSummary:
    count: int
    total: Decimal
    stale_count: int


def denial_queue_summary(queryset: QuerySet[DenialCase], *, now: datetime | None = None) -> DenialQueueSummary:
    """Count, money and "not worked" count over every row of `queryset` (all pages), in one query."""
    stale_before = (now or timezone.now()) - timedelta(days=STALE_DAYS)
    row = queryset.order_by().aggregate(
        count=Count("id"),
        total=Sum("amount", default=Decimal("0")),
        stale_count=Count(
            "id",
            filter=Q(status__in=OPEN_STATUSES)
            & (Q(last_worked_at__lt=stale_before) | Q(last_worked_at__isnull=True, created_at__lt=stale_before)),
        ),
    )
    # SQLite hands back an unscaled sum (300, not 300.00); cents on every database.
    total = row["total"].quantize(CENT)
    return DenialQueueSummary(count=row["count"], total=total, stale_count=row["stale_count"])


def denial_rows(cases: Iterable[DenialCase], *, today: date | None = None) -> list[DenialCase]:
    """`cases` (one page of `denial_queue_qs`) as a list, each with `age_days`, `is_stale` and the
    CARC in words."""
    today = today or timezone.localdate()
    stale_before = timezone.now() - timedelta(days=STALE_DAYS)
    rows = list(cases)
    for case in rows:
        _decorate(case, today=today, stale_before=stale_before)
    return rows


def denial_queue(filters: DenialFilters, *, today: date | None = None) -> list[DenialCase]:
    """Every matching denial, decorated (see `denial_rows`). Pages use `denial_queue_qs` instead."""
    return denial_rows(denial_queue_qs(filters, today=today), today=today)


def _decorate(case: DenialCase, *, today: date, stale_before) -> None:
    remit_date = getattr(case, "remit_date", None)
    case.age_days = (today - remit_date).days if remit_date else 0
    worked = case.last_worked_at or case.created_at
    case.is_stale = case.status in OPEN_STATUSES and worked < stale_before
    case.description = carc.describe(case.reason_code)
    case.next_step = carc.next_step(case.reason_code)
    case.group_label = carc.REASON_GROUPS[carc.reason_group(case.reason_code)]


def denial_get(*, case_id) -> DenialCase:
    case = _with_remit_date(
        DenialCase.objects.select_related(
            "claim__patient",
            "claim__payer",
            "claim__coverage",
            "claim__rendering__user",
            "assigned_to__user",
            "remittance_claim__remittance",
        ).prefetch_related(
            "claim__lines",
            Prefetch("notes", queryset=DenialNote.objects.select_related("author__user")),
            Prefetch(
                "remittance_claim__lines", queryset=RemittanceLine.objects.select_related("claim_line").order_by("id")
            ),
        )
    ).get(public_id=case_id)
    _decorate(case, today=timezone.localdate(), stale_before=timezone.now() - timedelta(days=STALE_DAYS))
    return case


def no_response_claims(*, now=None, payer_id: str = "") -> list[Claim]:
    """Submitted or accepted claims with no remittance after their payer's N days (see
    `no_response_days`), oldest first, each with `age_days` and `threshold_days`."""
    now = now or timezone.now()
    payers = list(Payer.objects.all().only("pk", "timely_filing_days", "public_id"))
    if payer_id:
        payers = [p for p in payers if str(p.public_id) == payer_id]
    if not payers:
        return []
    threshold = {p.pk: no_response_days(p) for p in payers}
    due = reduce(
        or_, (Q(payer_id=p.pk, submitted_at__lt=now - timedelta(days=threshold[p.pk])) for p in payers), Q(pk=None)
    )
    claims = list(
        Claim.objects.filter(status__in=(Claim.Status.SUBMITTED, Claim.Status.ACCEPTED), submitted_at__isnull=False)
        .filter(due)
        .exclude(remittance_claims__isnull=False)
        .select_related("patient", "payer", "rendering__user")
        .order_by("submitted_at", "id")
    )
    for claim in claims:
        claim.age_days = (now - claim.submitted_at).days
        claim.threshold_days = threshold[claim.payer_id]
    return claims


def billing_members() -> list:
    """Members who may be assigned a denial (BILLING_MANAGE), for the assign form and filter."""
    from practice.models import Membership
    from practice.permissions import Perm

    members = Membership.objects.filter(is_active=True).select_related("user").order_by("user__full_name")
    return [m for m in members if m.has_perm(Perm.BILLING_MANAGE)]
