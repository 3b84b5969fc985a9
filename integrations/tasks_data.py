"""Celery tasks of the CSV import and the full export: ids in, practice scope re-entered, one
service called. Each is safe to run twice (the services claim their job row)."""

from __future__ import annotations

from celery import shared_task
from django_scopes import scopes_disabled

from practice.tasks import practice_task

# A 20,000-row import or a large practice's export runs longer than the default 5-minute limit.
LONG_TASK = {"time_limit": 3600, "soft_time_limit": 3540}


@practice_task(**LONG_TASK)
def import_job_process_task(*, job_id: int, dry_run: bool) -> str | None:
    from integrations.csv_import import import_job_process

    job = import_job_process(job_id=job_id, dry_run=dry_run)
    return job.status if job is not None else None


@practice_task(**LONG_TASK)
def export_build_task(*, export_id: int) -> str | None:
    from integrations.export import export_build

    job = export_build(export_id=export_id)
    return job.status if job is not None else None


@shared_task(acks_late=True)
def exports_purge_expired_task() -> int:
    """Daily (beat): delete export files never downloaded within 7 days, in every practice."""
    from integrations.export import exports_purge_expired

    with scopes_disabled():
        return exports_purge_expired()
