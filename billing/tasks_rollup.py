"""A/R aging cells (billing.ar_rollup): rebuilt per practice every 10 minutes and nightly by beat.
Rebuilding twice gives the same cells (each run replaces the practice's cells in one transaction)."""

from __future__ import annotations

from celery import shared_task

from billing import ar_rollup
from practice.tasks import practice_task

__all__ = ["ar_rollup_practice_task", "ar_rollup_task"]


@practice_task(soft_time_limit=1500, time_limit=1800)  # a 4.5-million-entry ledger takes minutes
def ar_rollup_practice_task() -> int:
    """Rebuild the current practice's cells; returns how many ledger entries stay read live."""
    return len(ar_rollup.ar_rollup_rebuild().live_entry_ids)


@shared_task(acks_late=True)
def ar_rollup_task() -> int:
    """Beat: fan out one rebuild per practice that has A/R ledger entries."""
    from django.db.models import Exists, OuterRef

    from billing.models import LedgerEntry
    from practice.models import Practice

    # Only ids cross practices here (all_objects: the beat job has no practice of its own).
    has_ledger = Exists(LedgerEntry.all_objects.filter(practice_id=OuterRef("pk")))
    ids = list(Practice.objects.filter(has_ledger, is_active=True).values_list("id", flat=True))
    for practice_id in sorted(ids):
        ar_rollup_practice_task.delay(practice_id=practice_id)
    return len(ids)
