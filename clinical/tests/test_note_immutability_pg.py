"""The PostgreSQL trigger (clinical/migrations/0002) keeps signed notes and addenda immutable even
against raw SQL from the application's own role."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from clinical.tests import factories as cf
from practice.scoping import scopes_disabled

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the immutability trigger exists on PostgreSQL only"),
]


def _sql(statement: str, *params) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _column(note_id: int, column: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM clinical_progressnote WHERE id = %s", [note_id])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def practice(practice_a):
    return practice_a


@pytest.fixture
def signed(practice):
    with scopes_disabled():
        return cf.ProgressNoteFactory(
            patient=cf.PatientFactory(practice=practice), status="signed", signed_at=timezone.now()
        )


@pytest.fixture
def draft(practice):
    with scopes_disabled():
        return cf.ProgressNoteFactory(patient=cf.PatientFactory(practice=practice))


def test_raw_update_of_a_signed_notes_content_is_rejected(signed):
    for statement in (
        "UPDATE clinical_progressnote SET plan = 'rewritten' WHERE id = %s",
        'UPDATE clinical_progressnote SET content = \'{"assessment": "rewritten"}\'::jsonb WHERE id = %s',
        "UPDATE clinical_progressnote SET service_code = '90837' WHERE id = %s",
        "UPDATE clinical_progressnote SET signed_at = now() - interval '1 day' WHERE id = %s",
        "UPDATE clinical_progressnote SET status = 'draft' WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="signed note"):
            _sql(statement, signed.pk)
    assert _column(signed.pk, "plan") == signed.plan
    assert _column(signed.pk, "status") == "signed"


def test_raw_update_of_a_draft_works(draft):
    assert _sql("UPDATE clinical_progressnote SET plan = 'next week' WHERE id = %s", draft.pk) == 1
    assert _column(draft.pk, "plan") == "next week"


def test_raw_delete_of_a_signed_note_is_rejected_but_a_draft_may_go(signed, draft):
    with pytest.raises(DatabaseError, match="cannot be deleted"):
        _sql("DELETE FROM clinical_progressnote WHERE id = %s", signed.pk)
    assert _column(signed.pk, "id") == signed.pk
    assert _sql("DELETE FROM clinical_progressnote WHERE id = %s", draft.pk) == 1


def test_addenda_cannot_be_updated_or_deleted(practice):
    with scopes_disabled():
        addendum = cf.NoteAddendumFactory(
            note=cf.ProgressNoteFactory(
                patient=cf.PatientFactory(practice=practice), status="signed", signed_at=timezone.now()
            )
        )
    with pytest.raises(DatabaseError, match="addenda"):
        _sql("UPDATE clinical_noteaddendum SET text = 'rewritten' WHERE id = %s", addendum.pk)
    with pytest.raises(DatabaseError, match="addenda"):
        _sql("DELETE FROM clinical_noteaddendum WHERE id = %s", addendum.pk)


def test_cosigning_is_allowed_by_the_trigger(practice, make_member):
    from practice.permissions import Role

    supervisor = make_member(practice, Role.SUPERVISOR, email="sup@riverside.test")
    with scopes_disabled():
        note = cf.ProgressNoteFactory(
            patient=cf.PatientFactory(practice=practice),
            status="awaiting_cosign",
            signed_at=timezone.now(),
            cosigner=supervisor,
        )
    assert (
        _sql(
            "UPDATE clinical_progressnote SET status = 'signed', cosigned_at = now(), updated_at = now() WHERE id = %s",
            note.pk,
        )
        == 1
    )
    assert _column(note.pk, "status") == "signed"
    assert _column(note.pk, "cosigned_at") is not None


def test_services_sign_and_cosign_pass_the_trigger(practice, make_member):
    """The service path end to end on PostgreSQL: sign (pre-licensed), co-sign, then refuse edits."""
    from clinical.services import notes as services
    from conftest import DEFAULT_PASSWORD
    from practice.errors import DomainError
    from practice.permissions import Role
    from practice.scoping import practice_scope

    supervisor = make_member(practice, Role.SUPERVISOR, email="sup@riverside.test")
    trainee = make_member(practice, Role.CLINICIAN, email="t@riverside.test", is_licensed=False, supervisor=supervisor)
    with practice_scope(practice):
        patient = cf.PatientFactory(practice=practice, primary_clinician=trainee)
        template = cf.NoteTemplateFactory(practice=practice, includes_risk_assessment=False)
        note = services.note_create(author=trainee, patient=patient, template=template, session_on=timezone.localdate())
        services.note_update_draft(
            note=note,
            by=trainee,
            fields={"content": {"subjective": "s", "objective": "o", "assessment": "a", "plan_next": "p"}},
        )
        services.note_sign(note=note, by=trainee, credential=DEFAULT_PASSWORD)
        done = services.note_cosign(note=note, by=supervisor, credential=DEFAULT_PASSWORD)
        assert done.status == "signed"
        with pytest.raises(DomainError):
            services.note_update_draft(note=note, by=trainee, fields={"plan": "x"})
        services.addendum_add(note=note, by=trainee, reason="Correction", text="Added later.")
