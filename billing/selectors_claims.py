"""Reads for the claims queue, one claim's page and the charge list. Every list is a fixed number
of queries whatever its size (select_related / prefetch_related, one aggregate for the tabs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from billing.models import Charge, Claim, ClaimEvent, ClaimLine, ScrubFinding

# Aging buckets by days since the date of service (HFMA-style 0-30/31-60/61-90/91-120/120+,
# billing.md §6).
AGE_BUCKETS: dict[str, tuple[str, int, int | None]] = {
    "0-30": ("0–30 days", 0, 30),
    "31-60": ("31–60 days", 31, 60),
    "61-90": ("61–90 days", 61, 90),
    "91-120": ("91–120 days", 91, 120),
    "120+": ("Over 120 days", 121, None),
}


@dataclass
class QueueFilters:
    status: str = ""
    payer_id: str = ""  # Payer public_id
    clinician_id: str = ""  # Membership public_id
    age: str = ""
    has_errors: bool = False


def _age_q(bucket: str, today: date) -> Q:
    _, low, high = AGE_BUCKETS[bucket]
    q = Q(service_date__lte=today - timedelta(days=low))
    if high is not None:
        q &= Q(service_date__gte=today - timedelta(days=high))
    return q


def _filtered(filters: QueueFilters, *, today: date, with_status: bool = True) -> QuerySet[Claim]:
    qs = Claim.objects.all()
    if with_status and filters.status:
        qs = qs.filter(status=filters.status)
    if filters.payer_id:
        qs = qs.filter(payer__public_id=filters.payer_id)
    if filters.clinician_id:
        qs = qs.filter(rendering__public_id=filters.clinician_id)
    if filters.age in AGE_BUCKETS:
        qs = qs.filter(_age_q(filters.age, today))
    if filters.has_errors:
        qs = qs.filter(error_count__gt=0)
    return qs


def claim_queue(filters: QueueFilters, *, today: date | None = None) -> QuerySet[Claim]:
    """The queue's rows with what each row shows: patient, payer, clinician, lines (CPTs), the
    findings (first one inline)."""
    today = today or timezone.localdate()
    return (
        _filtered(filters, today=today)
        .select_related("patient", "payer", "rendering__user")
        .prefetch_related(
            Prefetch("lines", queryset=ClaimLine.objects.order_by("line_number").only("claim_id", "cpt", "units")),
            Prefetch("findings", queryset=ScrubFinding.objects.order_by("severity", "rule_code", "id")),
        )
        .order_by("service_date", "id")
    )


def claim_status_counts(filters: QueueFilters, *, today: date | None = None) -> dict[str, int]:
    """Claims per status under the other filters (the tabs), in one query. COUNT(*), not COUNT(id):
    the status index alone answers it (an index-only scan), without reading the claims."""
    today = today or timezone.localdate()
    rows = _filtered(filters, today=today, with_status=False).values("status").annotate(n=Count("*"))
    counts = {row["status"]: row["n"] for row in rows}
    counts["all"] = sum(counts.values())
    return counts


def claim_get(*, claim_id) -> Claim:
    """One claim with everything its page shows (raises Claim.DoesNotExist)."""
    return (
        Claim.objects.select_related(
            "patient",
            "payer",
            "coverage",
            "rendering__user",
            "supervising__user",
            "location",
            "original",
            "claim_file",
        )
        .prefetch_related(
            Prefetch("lines", queryset=ClaimLine.objects.select_related("charge").order_by("line_number")),
            Prefetch("findings", queryset=ScrubFinding.objects.select_related("line").order_by("severity", "id")),
            Prefetch("events", queryset=ClaimEvent.objects.select_related("by__user").order_by("created_at", "id")),
            Prefetch("replacements", queryset=Claim.objects.order_by("id")),
        )
        .get(public_id=claim_id)
    )


def claims_by_public_ids(ids: list[str]) -> list[Claim]:
    valid = []
    for value in ids:
        try:
            import uuid

            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(Claim.objects.filter(public_id__in=valid).order_by("id"))


def charge_list(*, kind: str = "", status: str = "", limit: int = 200) -> list[Charge]:
    """Charges for the charge page: unbilled insurance charges and patient charges by default."""
    qs = Charge.objects.select_related("patient", "rendering__user", "coverage__payer", "note", "appointment")
    if kind:
        qs = qs.filter(kind=kind)
    open_statuses = (Charge.Status.UNBILLED, Charge.Status.PATIENT)
    qs = qs.filter(status=status) if status else qs.filter(status__in=open_statuses)
    return list(qs.order_by("-service_date", "-id")[:limit])


def charge_counts() -> dict[str, int]:
    rows = Charge.objects.values("status").annotate(n=Count("*"))
    return {row["status"]: row["n"] for row in rows}
