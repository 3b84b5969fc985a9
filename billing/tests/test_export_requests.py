"""Export requests: the web's 837 export runs in a worker. Queueing (one open export per practice,
permission, nothing ready), the task's claim (idempotent, a dead worker's run reclaimed after the
lease, a live one never), done and files in one transaction, the failure path, the beat recovery,
and the files page's htmx status row."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from billing import models as m
from billing import services_export as svc
from billing.tasks_export import claims_export_recover_task, claims_export_run_task
from billing.tests import x12_shapes
from billing.tests.factories import ClaimExportRequestFactory, ClearinghouseConnectionFactory
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
R = m.ClaimExportRequest.Status


def ready_claims(practice, count=2, **fields):
    x12_shapes.profile(practice)
    return [x12_shapes.make_claim(practice, **fields) for _ in range(count)]


@pytest.fixture
def biller(make_member, practice_a):
    return make_member(practice_a, Role.BILLER)


def run(practice, request) -> str:
    return claims_export_run_task.delay(practice_id=practice.pk, request_id=request.pk).get()


def test_request_queues_the_task_after_commit(practice_a, biller, django_capture_on_commit_callbacks):
    with practice_scope(practice_a):
        ready_claims(practice_a)
        with django_capture_on_commit_callbacks() as callbacks:
            request = svc.claims_export_request(practice=practice_a, by=biller)
        assert len(callbacks) == 1
        request.refresh_from_db()
        assert (request.status, request.attempts, request.claim_ids) == (R.QUEUED, 0, None)
        assert not m.ClaimFile.objects.exists()  # nothing written in the web request


def test_a_second_request_while_one_is_open_is_refused_then_allowed_once_it_finished(practice_a, biller):
    with practice_scope(practice_a):
        ready_claims(practice_a)
        first = svc.claims_export_request(practice=practice_a, by=biller)
        with pytest.raises(svc.ExportAlreadyRunning) as refused:
            svc.claims_export_request(practice=practice_a, by=biller)
        assert refused.value.request == first and "already running" in refused.value.message
        m.ClaimExportRequest.objects.filter(pk=first.pk).update(status=R.RUNNING)
        with pytest.raises(svc.ExportAlreadyRunning):
            svc.claims_export_request(practice=practice_a, by=biller)
        m.ClaimExportRequest.objects.filter(pk=first.pk).update(status=R.FAILED)
        assert svc.claims_export_request(practice=practice_a, by=biller).pk != first.pk


def test_the_database_allows_one_open_request_per_practice(practice_a, practice_b):
    from django.db import IntegrityError

    with practice_scope(practice_a):
        m.ClaimExportRequest.objects.create(practice=practice_a)
        with pytest.raises(IntegrityError), transaction.atomic():
            m.ClaimExportRequest.objects.create(practice=practice_a, status=R.RUNNING)
    with practice_scope(practice_b):
        m.ClaimExportRequest.objects.create(practice=practice_b)  # another practice: its own slot


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.FRONT_DESK])
def test_only_billing_managers_may_request(practice_a, make_member, role):
    with practice_scope(practice_a):
        ready_claims(practice_a)
        with pytest.raises(DomainError) as refused:
            svc.claims_export_request(practice=practice_a, by=make_member(practice_a, role))
        assert refused.value.code == "forbidden"
        assert not m.ClaimExportRequest.objects.exists()


def test_a_member_of_another_practice_may_not_request(practice_a, practice_b, make_member):
    with practice_scope(practice_a):
        ready_claims(practice_a)
        with pytest.raises(DomainError) as refused:
            svc.claims_export_request(practice=practice_a, by=make_member(practice_b, Role.BILLER))
        assert refused.value.code == "forbidden"


def test_nothing_ready_or_no_billing_identity_is_said_at_once(practice_a, biller):
    with practice_scope(practice_a):
        with pytest.raises(DomainError) as no_profile:
            svc.claims_export_request(practice=practice_a, by=biller)
        assert no_profile.value.code == "no_profile"
        x12_shapes.profile(practice_a)
        with pytest.raises(DomainError) as nothing:
            svc.claims_export_request(practice=practice_a, by=biller)
        assert (nothing.value.code, nothing.value.message) == ("nothing_ready", "No ready claims to export.")
        assert not m.ClaimExportRequest.objects.exists()


def test_selected_claims_are_stored_as_the_ready_ones_public_ids(practice_a, biller):
    with practice_scope(practice_a):
        chosen, _other = ready_claims(practice_a)
        draft = x12_shapes.make_claim(practice_a, status=m.Claim.Status.DRAFT)
        request = svc.claims_export_request(practice=practice_a, by=biller, claim_ids=[chosen.pk, draft.pk])
        assert request.claim_ids == [str(chosen.public_id)]
        with pytest.raises(DomainError):
            svc.claims_export_request(practice=practice_a, by=biller, claim_ids=[draft.pk])


def test_the_task_writes_the_files_and_marks_done_and_a_second_delivery_does_nothing(practice_a, biller):
    with practice_scope(practice_a):
        ClearinghouseConnectionFactory(practice=practice_a)
        claims = ready_claims(practice_a, count=3)
        request = svc.claims_export_request(practice=practice_a, by=biller)
    assert run(practice_a, request) == R.DONE
    assert run(practice_a, request) == "skipped"  # redelivered message, or a recovery run
    with practice_scope(practice_a):
        request.refresh_from_db()
        (claim_file,) = request.files.all()
        assert (request.status, request.attempts, request.claims_count) == (R.DONE, 1, 3)
        assert request.started_at <= request.finished_at and request.error == ""
        assert m.ClaimFile.objects.count() == 1
        assert {c.claim_file_id for c in m.Claim.objects.filter(pk__in=[c.pk for c in claims])} == {claim_file.pk}


def test_a_running_request_past_its_lease_is_reclaimed_and_a_fresh_one_is_not(practice_a, biller):
    with practice_scope(practice_a):
        ready_claims(practice_a)
        request = svc.claims_export_request(practice=practice_a, by=biller)
        # a worker claimed it and died: its transaction rolled back, the row says running
        m.ClaimExportRequest.objects.filter(pk=request.pk).update(
            status=R.RUNNING, attempts=1, started_at=timezone.now()
        )
    assert run(practice_a, request) == "skipped"  # within the lease: maybe still being written
    with practice_scope(practice_a):
        assert not m.ClaimFile.objects.exists()
        m.ClaimExportRequest.objects.filter(pk=request.pk).update(
            started_at=timezone.now() - svc.export_lease() - timedelta(seconds=1)
        )
    assert run(practice_a, request) == R.DONE
    with practice_scope(practice_a):
        request.refresh_from_db()
        assert (request.status, request.attempts) == (R.DONE, 2)
        assert request.files.count() == m.ClaimFile.objects.count() == 2  # one per payer


def test_a_request_whose_runs_keep_dying_fails_after_the_last_attempt(practice_a, biller):
    with practice_scope(practice_a):
        claims = ready_claims(practice_a)
        request = svc.claims_export_request(practice=practice_a, by=biller)
        m.ClaimExportRequest.objects.filter(pk=request.pk).update(
            status=R.RUNNING,
            attempts=svc.EXPORT_MAX_ATTEMPTS,
            started_at=timezone.now() - svc.export_lease() - timedelta(seconds=1),
        )
    assert run(practice_a, request) == "skipped"
    with practice_scope(practice_a):
        request.refresh_from_db()
        assert request.status == R.FAILED and request.finished_at is not None
        assert f"did not finish after {svc.EXPORT_MAX_ATTEMPTS} attempts" in request.error
        assert not m.ClaimFile.objects.exists()
        assert {c.status for c in m.Claim.objects.filter(pk__in=[c.pk for c in claims])} == {"ready"}


def test_a_rule_the_export_breaks_fails_the_request_with_its_reason_and_writes_nothing(practice_a, make_member, biller):
    with practice_scope(practice_a):
        claims = ready_claims(practice_a)
        request = svc.claims_export_request(practice=practice_a, by=biller)
        biller.role = Role.CLINICIAN  # lost billing rights before the worker ran
        biller.save(update_fields=["role"])
    assert run(practice_a, request) == R.FAILED
    with practice_scope(practice_a):
        request.refresh_from_db()
        assert request.error == "You do not have permission to export claims."
        assert request.files.count() == 0 and not m.ClaimFile.objects.exists()
        assert not m.ControlNumberCounter.objects.filter(value__gt=0).exists()
        assert {c.status for c in m.Claim.objects.filter(pk__in=[c.pk for c in claims])} == {"ready"}
        svc.claims_export_request(practice=practice_a, by=make_member(practice_a, Role.BILLER))  # slot free


def test_an_unexpected_error_puts_the_request_back_in_the_queue(practice_a, biller, monkeypatch):
    with practice_scope(practice_a):
        ready_claims(practice_a)
        request = svc.claims_export_request(practice=practice_a, by=biller)

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(svc, "claims_export", broken)
    with pytest.raises(RuntimeError):
        run(practice_a, request)
    with practice_scope(practice_a):
        request.refresh_from_db()
        assert (request.status, request.attempts) == (R.QUEUED, 1)


def test_a_superseded_run_writes_nothing(practice_a, biller):
    with practice_scope(practice_a):
        ready_claims(practice_a)
        request = svc.claims_export_request(practice=practice_a, by=biller)
        assert svc.claims_export_claim(request_id=request.pk) == 1
        m.ClaimExportRequest.objects.filter(pk=request.pk).update(attempts=2)  # a later run took it over
        assert svc.claims_export_run(request_id=request.pk, attempt=1) is None
        assert not m.ClaimFile.objects.exists()


def test_a_task_given_the_wrong_practice_touches_nothing(practice_a, practice_b, biller):
    with practice_scope(practice_a):
        ready_claims(practice_a)
        request = svc.claims_export_request(practice=practice_a, by=biller)
    assert claims_export_run_task.delay(practice_id=practice_b.pk, request_id=request.pk).get() == "skipped"
    with practice_scope(practice_a):
        request.refresh_from_db()
        assert (request.status, request.attempts) == (R.QUEUED, 0)


def test_recovery_requeues_lost_and_dead_requests_only(practice_a, practice_b, biller, make_member):
    long_ago = timezone.now() - timedelta(hours=2)
    with practice_scope(practice_a):
        ready_claims(practice_a)
        lost = svc.claims_export_request(practice=practice_a, by=biller)
        m.ClaimExportRequest.objects.filter(pk=lost.pk).update(created_at=long_ago)
        ClaimExportRequestFactory(practice=practice_a, status=R.FAILED)
    with practice_scope(practice_b):
        ready_claims(practice_b)
        dead = svc.claims_export_request(practice=practice_b, by=make_member(practice_b, Role.BILLER))
        m.ClaimExportRequest.objects.filter(pk=dead.pk).update(status=R.RUNNING, attempts=1, started_at=long_ago)
    assert sorted(svc.claims_export_requests_to_recover()) == sorted(
        [(practice_a.pk, lost.pk), (practice_b.pk, dead.pk)]
    )
    with practice_scope(practice_a):  # fresh ones wait: their task message is on its way
        m.ClaimExportRequest.objects.filter(pk=lost.pk).update(created_at=timezone.now())
    assert svc.claims_export_requests_to_recover() == [(practice_b.pk, dead.pk)]
    assert claims_export_recover_task.delay().get() == 1  # eager: the dead one runs again here
    with practice_scope(practice_b):
        dead.refresh_from_db()
        assert (dead.status, dead.attempts) == (R.DONE, 2)
        assert dead.files.count() == m.ClaimFile.objects.count() == 2  # one per payer
    assert svc.claims_export_requests_to_recover() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_live_export_holding_its_request_is_never_reclaimed_however_long_it_runs(practice_a, biller):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks (SQLite has no SELECT ... FOR UPDATE SKIP LOCKED)")
    with practice_scope(practice_a):
        ready_claims(practice_a)
        # claimed an hour past its lease, and still being written (the thread below holds it)
        request = ClaimExportRequestFactory(
            practice=practice_a,
            requested_by=biller,
            status=R.RUNNING,
            attempts=1,
            started_at=timezone.now() - svc.export_lease() - timedelta(hours=1),
        )
    holding, release = threading.Event(), threading.Event()

    def live_export() -> None:  # what claims_export_run holds while it writes the files
        try:
            with practice_scope(practice_a), transaction.atomic():
                m.ClaimExportRequest.objects.select_for_update().get(pk=request.pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=live_export)
    thread.start()
    try:
        assert holding.wait(timeout=30)
        assert svc.claims_export_requests_to_recover() == []
        with practice_scope(practice_a):
            assert svc.claims_export_claim(request_id=request.pk) is None
    finally:
        release.set()
        thread.join(timeout=30)
    assert svc.claims_export_requests_to_recover() == [(practice_a.pk, request.pk)]  # its holder is gone


# --- The files page and its status row ----------------------------------------------------------


def url(name, **kwargs):
    return reverse(name, kwargs={"practice_slug": "riverside", **kwargs})


def test_the_files_page_shows_an_open_export_polling_and_disables_the_button(client, login, biller, practice_a):
    with practice_scope(practice_a):
        request = ClaimExportRequestFactory(practice=practice_a, status=R.RUNNING, requested_by=biller)
    login(biller)
    body = client.get(url("x12_files")).content.decode()
    status_url = url("x12_export_status", request_id=request.public_id)
    assert f'hx-get="{status_url}"' in body and 'hx-trigger="every 2s"' in body
    assert "Writing 837 files" in body and "Export running…" in body


def test_the_files_page_shows_a_failed_exports_reason(client, login, biller, practice_a):
    with practice_scope(practice_a):
        ClaimExportRequestFactory(
            practice=practice_a, status=R.FAILED, finished_at=timezone.now(), error="Set up the billing identity."
        )
    login(biller)
    body = client.get(url("x12_files")).content.decode()
    assert "Export failed" in body and "Set up the billing identity." in body and "hx-trigger" not in body


def test_status_row_polls_while_open_and_reloads_the_page_once_finished(
    client, login, biller, practice_a, django_assert_max_num_queries
):
    with practice_scope(practice_a):
        request = ClaimExportRequestFactory(practice=practice_a, status=R.QUEUED, requested_by=biller)
    login(biller)
    status_url = url("x12_export_status", request_id=request.public_id)
    client.get(status_url)  # warm the session
    with django_assert_max_num_queries(8):
        response = client.get(status_url)
    assert response.status_code == 200 and "Queued" in response.content.decode()
    assert f'hx-get="{status_url}"' in response.content.decode()
    with practice_scope(practice_a):
        m.ClaimExportRequest.objects.filter(pk=request.pk).update(status=R.DONE)
    response = client.get(status_url)
    assert response.status_code == 204 and response["HX-Refresh"] == "true"


def test_status_row_of_another_practices_export_is_404(client, login, biller, practice_b):
    with practice_scope(practice_b):
        other = ClaimExportRequestFactory(practice=practice_b, status=R.RUNNING)
    login(biller)
    assert client.get(url("x12_export_status", request_id=other.public_id)).status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.BILLER, 204), (Role.ADMIN, 204), (Role.OWNER, 204), (Role.CLINICIAN, 403), (Role.FRONT_DESK, 403)],
)
def test_status_row_permission(client, login, make_member, practice_a, role, status):
    with practice_scope(practice_a):
        request = ClaimExportRequestFactory(practice=practice_a)
    login(make_member(practice_a, role))
    assert client.get(url("x12_export_status", request_id=request.public_id)).status_code == status
