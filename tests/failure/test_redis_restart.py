"""Redis (the broker) restarted in the middle of a batch: the batch completes after it returns,
nothing lost, nothing duplicated.

A private `redis-server` without persistence (port 6391-6395) is stopped while a real worker is
sending reminders, then started again on the same port: every queued task is gone with it. The
worker reconnects by itself (broker_connection_retry); the batch is finished by the production
recovery path, the beat jobs run on their schedule after Redis is back: due pending reminders are
dispatched again, rows claimed before the outage and messages whose delivery task was lost are
put back in line (notifications_recover_stuck_task, threshold compressed to seconds here).
Needs PostgreSQL and the redis-server binary; skipped otherwise.
"""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from notifications.models import Reminder
from tests.failure import seeds
from tests.failure.conftest import Beat, FakeSms, Worker, wait_for

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_redis_restart_mid_batch_then_the_beat_completes_every_reminder_once(own_redis, practice_a):
    from notifications.tasks import reminders_dispatch_due_task

    n = 40
    ids = seeds.due_sms_reminders(practice_a, n)
    sms = FakeSms()
    try:
        worker = Worker(redis_url=own_redis.url, sms=sms, send_delay=0.1)
        try:
            reminders_dispatch_due_task.delay()
            wait_for(lambda: sms.count >= n // 4, what="a quarter of the batch at the provider", worker=worker)
            own_redis.stop()  # every queued and unacknowledged task is lost (no persistence)
            own_redis.start()
            assert sms.count < n, "the batch finished before Redis went away"
            wait_for(lambda: seeds.reminders_settled(ids), what="every reminder", worker=worker, tick=Beat())
        finally:
            worker.stop()
    finally:
        sms.close()
    messages = seeds.reminder_messages(ids)
    seeds.assert_each_message_reached_the_provider_once(messages, sms.received())
    assert {m.status for m in messages} == {"sent"}
    with scopes_disabled():
        assert set(Reminder.all_objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}
