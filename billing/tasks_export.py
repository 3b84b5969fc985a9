"""837 export tasks: a biller's export request written by a worker, and the beat job that runs
again the requests a lost message or a dead worker left behind.

Late acknowledgement plus a database claim: a redelivered message, a second delivery or a
recovery run while a live worker writes the files finds the request done or locked and does
nothing. The export (files, submitted claims, control numbers) and "done" commit together.
"""

from __future__ import annotations

from celery import shared_task

from billing.services_export import claims_export_claim, claims_export_requests_to_recover, claims_export_run
from practice.tasks import practice_task

__all__ = ["claims_export_recover_task", "claims_export_run_task"]

# One export of 10,000 claims takes minutes (benchmarks/RESULTS.md): far past the default limits.
EXPORT_TIME_LIMIT = 3 * 3600


@practice_task(time_limit=EXPORT_TIME_LIMIT, soft_time_limit=EXPORT_TIME_LIMIT - 60)
def claims_export_run_task(*, request_id: int) -> str:
    attempt = claims_export_claim(request_id=request_id)
    if attempt is None:
        return "skipped"
    row = claims_export_run(request_id=request_id, attempt=attempt)
    return row.status if row is not None else "superseded"


@shared_task(acks_late=True)
def claims_export_recover_task() -> int:
    """Beat (every 2 minutes): queue again the requests whose message was lost or whose worker died."""
    found = claims_export_requests_to_recover()
    for practice_id, request_id in found:
        claims_export_run_task.delay(practice_id=practice_id, request_id=request_id)
    return len(found)
