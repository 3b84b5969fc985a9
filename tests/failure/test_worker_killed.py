"""A Celery worker SIGKILLed (its whole process group) in the middle of a batch, then a new worker
started: nothing is lost and nothing is duplicated.

What recovers the batch (the broker does not: with the Redis transport a dead worker's unacked
messages come back only after the visibility timeout, 1 hour, so the database is the source of
truth and the beat jobs finish the work):
- reminders: rows the dead worker claimed (sending, no message yet) go back to pending after the
  stuck threshold (notifications_recover_stuck_task) and the next dispatch sends them;
- questionnaires: a dead worker's claim (claimed_at) is free again after CLAIM_STALE_AFTER and the
  next dispatch takes it; the message idempotency key keeps one message per administration;
- messages: queued ones whose delivery task died are queued again; one whose provider request had
  not started goes back to queued; an SMS whose Twilio request had started is recorded as failed
  with an unknown outcome and never sent again (Twilio is not idempotent); an email is sent again
  (a relay accepts it only at the end of its data) with the same Message-ID;
- 837 files: a biller's export request is run by a worker in one transaction, so a worker killed
  inside it leaves no file, no submitted claim and no used control number; the request stays
  running until its lease expires, then the recovery job (claims_export_recover_task) runs it again
  and it writes every claim once. (The export_837 command runs the same transaction in-process.)

The provider fakes hold one request unanswered (after accepting it) and the worker is killed right
then, the moment a naive recovery sends that message twice. Needs PostgreSQL and REDIS_URL; skipped otherwise.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from assessments.models import Administration
from assessments.services_delivery import CLAIM_STALE_AFTER
from billing import models as bm
from billing.tests import x12_shapes
from billing.tests.factories import CoverageFactory, PayerFactory
from notifications.models import Reminder
from notifications.services import OUTCOME_UNKNOWN
from practice.scoping import practice_scope
from tests.failure import seeds
from tests.failure.conftest import Beat, FakeSms, FakeSmtp, Worker, wait_for

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _assert_only_the_interrupted_requests_failed(messages, provider) -> None:
    failed = [m for m in messages if m.status == "failed"]
    assert provider.held_id in {str(m.public_id) for m in failed}, "the held message was not recorded as failed"
    for message in failed:  # only requests that reached the provider and got no answer
        assert message.last_error == OUTCOME_UNKNOWN
        assert str(message.public_id) in provider.received()
    assert {m.status for m in messages} <= {"sent", "failed"}


def test_reminders_worker_killed_during_a_provider_request_lose_and_duplicate_nothing(broker, practice_a, practice_b):
    from notifications.tasks import reminders_dispatch_due_task

    n = 30
    ids = seeds.due_sms_reminders(practice_a, n)
    sms = FakeSms(hold_nth=n // 3)
    try:
        first = Worker(redis_url=broker, sms=sms, send_delay=0.3)
        try:
            reminders_dispatch_due_task.delay()
            wait_for(sms.held.is_set, what="a third of the batch at the provider", worker=first)
        finally:
            first.kill()
        sms.release.set()
        assert sms.count < n, "the batch finished before the kill"
        assert any(m.status in seeds.OPEN_MESSAGE for m in seeds.reminder_messages(ids))

        second = Worker(redis_url=broker, sms=sms)
        try:
            wait_for(lambda: seeds.reminders_settled(ids), what="every reminder", worker=second, tick=Beat())
        finally:
            second.stop()
    finally:
        sms.close()
    messages = seeds.reminder_messages(ids)
    seeds.assert_each_message_reached_the_provider_once(messages, sms.received())
    _assert_only_the_interrupted_requests_failed(messages, sms)
    with scopes_disabled():
        assert set(Reminder.all_objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}


def test_questionnaires_worker_killed_mid_batch_lose_nothing_and_resend_only_an_unrecorded_email(
    broker, practice_a, practice_b
):
    from assessments.tasks_delivery import administrations_dispatch_due_task

    n = 30
    ids = seeds.due_email_questionnaires(practice_a, n - 6) + seeds.due_email_questionnaires(practice_b, 6)
    smtp = FakeSmtp(hold_nth=n // 3)
    try:
        first = Worker(redis_url=broker, smtp=smtp, send_delay=0.3)
        try:
            administrations_dispatch_due_task.delay()
            wait_for(smtp.held.is_set, what="a third of the batch at the provider", worker=first)
        finally:
            first.kill()
        smtp.release.set()
        assert smtp.count < n, "the batch finished before the kill"
        # Time passes: the dead worker's claims grow older than the lease (10 minutes in production).
        with scopes_disabled():
            claimed = Administration.all_objects.filter(pk__in=ids, status="scheduled", claimed_at__isnull=False)
            for row in claimed:
                Administration.all_objects.filter(pk=row.pk).update(claimed_at=row.claimed_at - CLAIM_STALE_AFTER)

        second = Worker(redis_url=broker, smtp=smtp)
        try:
            wait_for(lambda: seeds.questionnaires_settled(ids), what="every questionnaire", worker=second, tick=Beat())
        finally:
            second.stop()
    finally:
        smtp.close()
    messages = seeds.questionnaire_messages(ids)
    received = smtp.received()
    # The held email was accepted by the relay when its worker died, unrecorded: the one email
    # sent again, with the same Message-ID. Every other message reached the relay exactly once.
    assert received.count(smtp.held_id) == 2
    seeds.assert_each_message_reached_the_provider_once(
        messages, [i for i in received if i != smtp.held_id] + [smtp.held_id]
    )
    assert {m.status for m in messages} == {"sent"}
    header_ids = {}
    for message_id, header_id in smtp.headers:
        header_ids.setdefault(message_id, set()).add(header_id)
    assert all(v == {f"<{k}@tend.local>"} for k, v in header_ids.items())
    with scopes_disabled():
        rows = Administration.all_objects.filter(pk__in=ids)
        assert {r.status for r in rows} == {"sent"}
        assert sorted(r.message.idempotency_key for r in rows) == sorted(f"questionnaire:{pk}" for pk in ids)
        assert len({r.token_hash for r in rows}) == n


def _backend_state(app_name: str) -> tuple[bool, bool]:
    """(connected, has written in an open transaction) for the export process's database session."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT backend_xid IS NOT NULL FROM pg_stat_activity WHERE application_name = %s", [app_name])
        row = cursor.fetchone()
    return (row is not None, bool(row and row[0]))


def _export_settled(request_id: int) -> bool:
    with scopes_disabled():
        return bm.ClaimExportRequest.all_objects.get(pk=request_id).status in ("done", "failed")


class _ExportBeat:
    """What celery beat does every 2 minutes, every second here: claims_export_recover_task."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> None:
        from billing.tasks_export import claims_export_recover_task

        if time.monotonic() - self.last >= 1:
            self.last = time.monotonic()
            claims_export_recover_task.delay()


def test_837_export_worker_killed_inside_its_transaction_leaves_nothing_and_the_rerun_writes_each_claim_once(
    broker, practice_a, make_member, monkeypatch
):
    from billing.services_export import claims_export_request

    biller = make_member(practice_a, role="biller")
    with scopes_disabled():
        x12_shapes.profile(practice_a)
        payers = [PayerFactory(practice=practice_a) for _ in range(4)]
        claims = [
            x12_shapes.make_claim(practice_a, coverage=CoverageFactory(practice=practice_a, payer=payers[i % 4]))
            for i in range(40)
        ]
    ids = [c.pk for c in claims]
    app_name = f"tend-failure-export-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PGAPPNAME", app_name)  # libpq: names the worker's sessions in pg_stat_activity
    monkeypatch.setenv("TEND_CLAIM_EXPORT_TEST_FILE_DELAY", "1.0")  # 4 files: the export takes 4 s or more
    first = Worker(redis_url=broker)
    try:
        with practice_scope(practice_a):
            request = claims_export_request(practice=practice_a, by=biller)  # the biller's click
        # Claimed (running, committed), then inside the export's transaction: claims locked FOR
        # UPDATE and control numbers taken, so that transaction has an xid.
        wait_for(lambda: _backend_state(app_name)[1], what="the export's transaction", worker=first)
    finally:
        first.kill()
    wait_for(lambda: not _backend_state(app_name)[0], what="PostgreSQL to roll the dead export back")

    with scopes_disabled():
        row = bm.ClaimExportRequest.all_objects.get(pk=request.pk)
        assert (row.status, row.attempts) == ("running", 1), "the export finished before the kill"
        assert not bm.ClaimFile.all_objects.filter(practice=practice_a).exists()
        assert set(bm.Claim.all_objects.filter(pk__in=ids).values_list("status", flat=True)) == {"ready"}
        assert not bm.ControlNumberCounter.all_objects.filter(practice=practice_a, value__gt=0).exists()

    # Time passes: the dead run's lease (10 minutes in production) is 1 s for the new worker, which
    # runs both the recovery job's query and the claim.
    monkeypatch.setenv("TEND_CLAIM_EXPORT_LEASE_SECONDS", "1")
    monkeypatch.setenv("TEND_CLAIM_EXPORT_TEST_FILE_DELAY", "0")
    second = Worker(redis_url=broker)
    try:
        wait_for(lambda: _export_settled(request.pk), what="the export to finish", worker=second, tick=_ExportBeat())
    finally:
        second.stop()

    with scopes_disabled():
        row = bm.ClaimExportRequest.all_objects.get(pk=request.pk)
        assert (row.status, row.attempts, row.error) == ("done", 2, "")
        files = list(bm.ClaimFile.all_objects.filter(practice=practice_a).order_by("interchange_control_number"))
        assert {f.pk for f in row.files.all()} == {f.pk for f in files}  # no file outside the request
        assert [f.status for f in files] == ["released"] * 4
        assert [int(f.interchange_control_number) for f in files] == [1, 2, 3, 4]  # none skipped or reused
        assert sorted(int(f.group_control_number) for f in files) == [1, 2, 3, 4]
        assert sorted(int(f.transaction_control_number) for f in files) == [1, 2, 3, 4]
        assert sum(f.claim_count for f in files) == len(ids) == row.claims_count
        rows = list(bm.Claim.all_objects.filter(pk__in=ids))
        assert {r.status for r in rows} == {"submitted"}
        assert {r.claim_file_id for r in rows} == {f.pk for f in files}
        for claim_file in files:  # each claim in its file's content once, and in no other file
            mine = [r for r in rows if r.claim_file_id == claim_file.pk]
            assert len(mine) == claim_file.claim_count
            assert len(re.findall(r"(?:^|~)\s*CLM\*", claim_file.content)) == claim_file.claim_count
            assert all(r.control_number in claim_file.content for r in mine)
        assert bm.ClaimEvent.all_objects.filter(claim_id__in=ids, to_status="submitted").count() == len(ids)
