"""A/R aging cells (billing.ar_rollup): rebuilt per practice every 10 minutes and nightly by beat.
Rebuilding twice gives the same cells (each run replaces the practice's cells in one transaction)."""

from __future__ import annotations

from celery import shared_task

from billing import ar_rollup
from practice.tasks import practice_task

__all__ = ["ar_figures_practice_task", "ar_figures_task", "ar_rollup_practice_task", "ar_rollup_task"]


@practice_task(soft_time_limit=1500, time_limit=1800)  # a 4.5-million-entry ledger takes minutes
def ar_rollup_practice_task() -> int:
    """Rebuild the current practice's cells; returns how many ledger entries stay read live."""
    return len(ar_rollup.ar_rollup_rebuild().live_entry_ids)


@shared_task(acks_late=True)
def ar_rollup_task() -> int:
    """Beat: fan out one rebuild per practice that has A/R ledger entries."""
    ids = _practices_with_ledger()
    for practice_id in ids:
        ar_rollup_practice_task.delay(practice_id=practice_id)
    return len(ids)


def _practices_with_ledger() -> list[int]:
    from django.db.models import Exists, OuterRef

    from billing.models import LedgerEntry
    from practice.models import Practice

    # Only ids cross practices here (all_objects: the beat job has no practice of its own).
    has_ledger = Exists(LedgerEntry.all_objects.filter(practice_id=OuterRef("pk")))
    return sorted(Practice.objects.filter(has_ledger, is_active=True).values_list("id", flat=True))


@practice_task(soft_time_limit=1500, time_limit=1800)
def ar_figures_practice_task() -> int:
    """Compute the A/R dashboard's whole-ledger figures for today's windows (every period) in the
    practice's time zone; re-running just replaces them. Returns how many windows were stored."""
    from django.utils import timezone
    from django_scopes import get_scope

    from billing import selectors_ar

    practice = get_scope()["practice"]
    with timezone.override(practice.timezone):
        today = timezone.localdate()
        for period, _label in selectors_ar.PERIODS:
            start, end = selectors_ar.window(today, period)
            selectors_ar.ledger_figures_store(practice_id=practice.id, as_of=today, start=start, end=end)
    return len(selectors_ar.PERIODS)


@shared_task(acks_late=True)
def ar_figures_task() -> int:
    """Beat: one figures computation per practice that has ledger entries."""
    ids = _practices_with_ledger()
    for practice_id in ids:
        ar_figures_practice_task.delay(practice_id=practice_id)
    return len(ids)
