"""Clearinghouse SFTP tasks: ids in, practice scope re-entered, one service called; safe to run
twice (Transmission rows are unique per file and a per-practice lock keeps runs from overlapping).

Beat (config/celery.py): `clearinghouse_sync_task` every 15 minutes queues an upload and a
download task for each practice with an active connection. Network errors are retried with
exponential backoff (Celery autoretry); a refused host key or login is recorded on the
transmission log and waits for the admin (retrying cannot fix it). Failed files are tried again
on the next beat.
"""

from __future__ import annotations

from celery import shared_task
from django_scopes import get_scope

from billing.models import ClearinghouseConnection
from billing.services_clearinghouse import clearinghouse_download_new, clearinghouse_upload_released
from billing.sftp import SftpNetworkError
from practice.tasks import practice_task

__all__ = ["clearinghouse_download_task", "clearinghouse_sync_task", "clearinghouse_upload_task"]

RETRY = {
    "autoretry_for": (SftpNetworkError,),
    "retry_backoff": 30,  # 30 s, 60 s, 120 s ... capped below; the next beat tries again anyway
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 4,
}


def _practice_id() -> int:
    return get_scope()["practice"].pk


@practice_task(**RETRY)
def clearinghouse_upload_task() -> dict:
    """Upload this practice's released, not yet uploaded 837 files."""
    return clearinghouse_upload_released(practice_id=_practice_id()).as_dict()


@practice_task(**RETRY)
def clearinghouse_download_task() -> dict:
    """Collect this practice's new 999 / 277CA / 835 files and import them."""
    return clearinghouse_download_new(practice_id=_practice_id()).as_dict()


@shared_task(acks_late=True)
def clearinghouse_sync_task() -> int:
    """Every 15 minutes: queue an upload and a download for each practice with an active
    connection. Only ids cross practices here (all_objects: the beat job has no practice)."""
    practice_ids = sorted(
        set(ClearinghouseConnection.all_objects.filter(is_active=True).values_list("practice_id", flat=True))
    )
    for practice_id in practice_ids:
        clearinghouse_upload_task.delay(practice_id=practice_id)
        clearinghouse_download_task.delay(practice_id=practice_id)
    return len(practice_ids)
