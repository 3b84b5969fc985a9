"""Scrubbing tasks: ids in, the practice scope re-entered, the scrub service called.

`claims_scrub_batch_task` takes at most CHUNK claim ids per run; a longer list is split into
tasks of CHUNK ids (queued from here) so one worker never holds hundreds of claim locks. Each run
replaces the claims' findings, so running it twice (a retry, a redelivered message after a worker
died: acks_late) changes nothing but the scrub time and the scrub event.
"""

from __future__ import annotations

from billing.services_scrub import claims_scrub_batch
from practice.models import Membership
from practice.tasks import practice_task

__all__ = ["claims_scrub_batch_task"]

CHUNK = 200


@practice_task()
def claims_scrub_batch_task(*, claim_ids: list[int], by_id: int | None = None) -> int:
    """Scrub these claims of the scoped practice; returns how many were scrubbed here (0 when the
    list was split into smaller tasks)."""
    from django_scopes import get_scope

    practice_id = get_scope()["practice"].pk
    ids = sorted({int(i) for i in claim_ids})
    if len(ids) > CHUNK:
        for start in range(0, len(ids), CHUNK):
            claims_scrub_batch_task.delay(practice_id=practice_id, claim_ids=ids[start : start + CHUNK], by_id=by_id)
        return 0
    by = Membership.objects.filter(pk=by_id).first() if by_id else None
    return len(claims_scrub_batch(practice_id=practice_id, claim_ids=ids, by=by))
