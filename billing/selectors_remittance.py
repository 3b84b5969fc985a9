"""Reads for the remittance pages (bounded queries: prefetches, no per-row lookups)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from billing.models import Remittance, RemittanceClaim, RemittanceLine


def remittances_recent(limit: int = 50) -> list[Remittance]:
    return list(Remittance.objects.select_related("payer").order_by("-created_at", "-id")[:limit])


def remittance_with_claims(remittance_id) -> Remittance | None:
    lines = Prefetch("lines", queryset=RemittanceLine.objects.select_related("claim_line").order_by("id"))
    claims = Prefetch(
        "claims",
        queryset=RemittanceClaim.objects.select_related("claim").prefetch_related(lines).order_by("id"),
    )
    return (
        Remittance.objects.select_related("payer")
        .prefetch_related(claims, "provider_adjustments")
        .filter(public_id=remittance_id)
        .first()
    )


def unmatched_remittance_claims(limit: int = 100) -> QuerySet[RemittanceClaim]:
    return (
        RemittanceClaim.objects.filter(is_matched=False, resolved_at__isnull=True)
        .select_related("remittance")
        .prefetch_related("lines")
        .order_by("remittance__payment_date", "id")[:limit]
    )


def unmatched_count() -> int:
    return RemittanceClaim.objects.filter(is_matched=False, resolved_at__isnull=True).count()


def rejected_remittances(limit: int = 20) -> list[Remittance]:
    """835s rejected whole (malformed or unbalanced), newest first: nothing of them was posted."""
    return list(
        Remittance.objects.filter(status=Remittance.Status.REJECTED)
        .select_related("inbound_file")
        .defer("inbound_file__content")
        .order_by("-created_at", "-id")[:limit]
    )
