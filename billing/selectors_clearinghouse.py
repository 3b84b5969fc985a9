"""Reads for the clearinghouse pages (inside the request's practice scope)."""

from __future__ import annotations

from django.db.models import QuerySet

from billing.models import ClearinghouseConnection, Transmission


def clearinghouse_connection_get() -> ClearinghouseConnection | None:
    """The practice's connection (the current scope's), or None."""
    return ClearinghouseConnection.objects.first()


def transmission_list(*, direction: str = "", status: str = "") -> QuerySet[Transmission]:
    rows = Transmission.objects.select_related("claim_file", "inbound_file").order_by("-updated_at", "-pk")
    if direction:
        rows = rows.filter(direction=direction)
    if status:
        rows = rows.filter(status=status)
    return rows
