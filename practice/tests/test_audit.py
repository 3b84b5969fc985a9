import io
import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django_scopes import scopes_disabled

from practice.audit import GENESIS_HASH, verify_chains
from practice.models import AccessEvent, AuditLogEntry, Location
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


def _verify() -> str:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit_chain", stdout=out, stderr=err)
    except CommandError as exc:
        return f"FAILED {exc}\n{err.getvalue()}"
    return out.getvalue()


def _tamper(sql: str, params: list) -> None:
    """Run SQL as a privileged attacker would: past the append-only trigger on PostgreSQL."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # disables user triggers
        cursor.execute(sql, params)


def _location_changes(practice, n=3):
    with practice_scope(practice):
        loc = LocationFactory(practice=practice, name="Main")
        for i in range(n):
            loc.phone = f"555-010{i}"
            loc.save()
    return loc


def test_each_write_is_chained_per_practice(practice_a, practice_b):
    _location_changes(practice_a, n=2)
    _location_changes(practice_b, n=1)
    with scopes_disabled():
        a_entries = list(AuditLogEntry.objects.filter(practice=practice_a).order_by("seq"))
        b_entries = list(AuditLogEntry.objects.filter(practice=practice_b).order_by("seq"))
    # practice creation (by the factory) + location create + 2 updates
    assert [e.seq for e in a_entries] == list(range(1, len(a_entries) + 1))
    assert a_entries[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in itertools.pairwise(a_entries))
    assert {e.chain_key for e in b_entries} == {f"auditlogentry:{practice_b.pk}"}
    assert "OK" in _verify()


def test_verifier_detects_an_edited_entry(practice_a):
    _location_changes(practice_a)
    with scopes_disabled():
        victim = AuditLogEntry.objects.filter(practice=practice_a).order_by("seq")[1]
    _tamper("UPDATE practice_auditlogentry SET changes_text = %s WHERE id = %s", ["nothing to see", victim.pk])
    report = _verify()
    assert report.startswith("FAILED")
    assert f"entry id={victim.pk} seq={victim.seq}" in report
    assert "edited" in report


def test_verifier_detects_a_deleted_entry_in_the_middle(practice_a):
    _location_changes(practice_a)
    with scopes_disabled():
        victim = AuditLogEntry.objects.filter(practice=practice_a).order_by("seq")[1]
    _tamper("DELETE FROM practice_auditlogentry WHERE id = %s", [victim.pk])
    report = _verify()
    assert report.startswith("FAILED")
    assert f"seq={victim.seq} is missing" in report


def test_verifier_detects_the_newest_entry_deleted(practice_a):
    _location_changes(practice_a)
    with scopes_disabled():
        newest = AuditLogEntry.objects.filter(practice=practice_a).order_by("-seq").first()
    _tamper("DELETE FROM practice_auditlogentry WHERE id = %s", [newest.pk])
    report = _verify()
    assert "newest entries deleted" in report


def test_verifier_detects_an_edited_access_event(rf, practice_a, clinician_a):
    from practice.audit import access_record

    with practice_scope(practice_a):
        loc = LocationFactory(practice=practice_a)
        request = rf.get("/p/riverside/locations/x/")
        request.user, request.practice = clinician_a.user, practice_a
        event = access_record(request=request, action="view", target=loc)
        access_record(request=request, action="view", target=loc)
    assert "OK" in _verify()
    _tamper("UPDATE practice_accessevent SET user_id = NULL WHERE id = %s", [event.pk])
    report = _verify()
    assert "accessevent" in report and f"entry id={event.pk}" in report


def test_access_event_records_who_what_where(rf, practice_a, clinician_a):
    import uuid

    from practice.audit import access_record

    patient_id = uuid.uuid4()
    with practice_scope(practice_a):
        loc = LocationFactory(practice=practice_a)
        request = rf.get("/p/riverside/locations/x/", HTTP_USER_AGENT="pytest-browser", REMOTE_ADDR="10.1.2.3")
        request.user, request.practice = clinician_a.user, practice_a
        event = access_record(request=request, action="view", target=loc, patient_id=patient_id)
        event.refresh_from_db()
    assert event.patient_id == patient_id
    assert "OK" in _verify()
    assert (event.user, event.action, event.object_type) == (clinician_a.user, "view", "practice.location")
    assert event.object_id == str(loc.public_id)
    assert (event.ip_address, event.user_agent) == ("10.1.2.3", "pytest-browser")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="append-only trigger exists on PostgreSQL only")
def test_postgres_rejects_update_and_delete_of_audit_rows(practice_a):
    _location_changes(practice_a, n=1)
    with scopes_disabled():
        entry = AuditLogEntry.objects.filter(practice=practice_a).first()
    for sql in (
        "UPDATE practice_auditlogentry SET changes_text = 'x' WHERE id = %s",
        "DELETE FROM practice_auditlogentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(sql, [entry.pk])
    assert "OK" in _verify()


def test_chains_are_intact_after_ordinary_work(practice_a, practice_b):
    _location_changes(practice_a)
    _location_changes(practice_b)
    results = list(verify_chains())
    assert results and all(isinstance(r, tuple) for r in results)
    with scopes_disabled():
        assert Location.objects.count() == 2
        assert AccessEvent.objects.count() == 0


def test_entries_written_during_a_request_keep_actor_and_address_and_verify(practice_a, clinician_a):
    from auditlog.context import set_actor

    with set_actor(clinician_a.user, remote_addr="192.0.2.10"), practice_scope(practice_a):
        LocationFactory(practice=practice_a, name="Annex")
    with scopes_disabled():
        entry = AuditLogEntry.objects.filter(practice=practice_a).order_by("-seq").first()
    assert (entry.actor_id, entry.actor_email, entry.remote_addr) == (
        clinician_a.user.pk,
        clinician_a.user.email,
        "192.0.2.10",
    )
    assert "OK" in _verify()


def test_nightly_verify_task_counts_broken_chains(practice_a):
    from practice.tasks import audit_chain_verify_task

    _location_changes(practice_a)
    assert audit_chain_verify_task.delay().get() == 0
    with scopes_disabled():
        victim = AuditLogEntry.objects.filter(practice=practice_a).order_by("seq")[1]
    _tamper("UPDATE practice_auditlogentry SET object_repr = %s WHERE id = %s", ["x", victim.pk])
    assert audit_chain_verify_task.delay().get() == 1


def _head(practice):
    from practice.models import AuditChainHead

    return AuditChainHead.objects.get(chain_key=f"auditlogentry:{practice.pk}")


@pytest.mark.parametrize("prelock", [False, True])
def test_a_batch_writes_the_head_once_and_the_chain_still_verifies(practice_a, prelock):
    from practice.audit import audit_batch

    before = _head(practice_a).seq
    batch = audit_batch(practice_id=practice_a.pk) if prelock else audit_batch()
    with transaction.atomic(), batch, practice_scope(practice_a):
        loc = LocationFactory(practice=practice_a, name="Main")
        for i in range(4):
            loc.phone = f"555-010{i}"
            loc.save()
        assert _head(practice_a).seq == before  # not rewritten per row
        try:
            with transaction.atomic():  # a savepoint rolled back inside the batch loses its row
                loc.phone = "555-0199"
                loc.save()
                raise RuntimeError
        except RuntimeError:
            pass
        loc.phone = "555-0200"
        loc.save()
    with scopes_disabled():
        newest = AuditLogEntry.objects.filter(practice=practice_a).order_by("-seq").first()
    assert newest.seq == before + 6 and _head(practice_a).seq == newest.seq
    assert _head(practice_a).last_hash == newest.entry_hash
    assert "OK" in _verify()
    with practice_scope(practice_a):  # an ordinary append after the batch continues the chain
        loc.phone = "555-0300"
        loc.save()
    assert _head(practice_a).seq == newest.seq + 1
    assert "OK" in _verify()


def test_a_failed_batch_leaves_no_rows_and_the_head_unchanged(practice_a):
    from practice.audit import audit_batch

    head = _head(practice_a)
    with pytest.raises(RuntimeError), audit_batch(), practice_scope(practice_a):
        LocationFactory(practice=practice_a, name="Main")
        raise RuntimeError
    with scopes_disabled():
        assert AuditLogEntry.objects.filter(practice=practice_a).order_by("-seq").first().seq == head.seq
    assert _head(practice_a).last_hash == head.last_hash
    assert "OK" in _verify()


def test_a_batch_after_the_newest_entry_was_deleted_still_leaves_the_gap_detectable(practice_a):
    from practice.audit import audit_batch

    _location_changes(practice_a, n=2)
    with scopes_disabled():
        newest = AuditLogEntry.objects.filter(practice=practice_a).order_by("-seq").first()
    _tamper("DELETE FROM practice_auditlogentry WHERE id = %s", [newest.pk])
    with transaction.atomic(), audit_batch(practice_id=practice_a.pk), practice_scope(practice_a):
        LocationFactory(practice=practice_a, name="Annex")
    with scopes_disabled():
        seqs = list(AuditLogEntry.objects.filter(practice=practice_a).order_by("seq").values_list("seq", flat=True))
    assert newest.seq not in seqs and seqs[-1] == newest.seq + 1  # continues from the head, not the tail
    assert "FAILED" in _verify()
