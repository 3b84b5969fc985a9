"""Two devices sign the same note at once (issue 10): one signature, one clear refusal, and the
signed text is the text its signer saved.

The realistic case is one clinician with the draft open on two computers (or two tabs). The editor's
Sign button saves the editor's text and then signs, in two transactions; the signature carries the
revision that save produced, so a save from the other device in between refuses the signature
instead of signing text its signer never saw.
"""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from billing.tasks_charges import charges_for_note_task
from clinical.models import ProgressNote
from clinical.services import notes as services
from clinical.tests import factories as cf
from conftest import DEFAULT_PASSWORD
from practice.audit import ChainBreak, verify_chains
from practice.errors import DomainError
from practice.models import AuditLogEntry
from practice.permissions import Role
from practice.scoping import practice_scope, scopes_disabled
from tests.failure.racing import race

FILLED = {
    "subjective": "Slept better; one panic episode.",
    "objective": "Calm, good eye contact.",
    "assessment": "Improving with exposure work.",
    "plan_next": "Continue exposure; next week.",
}
RISK = {"risk_ideation": "none", "risk_level": "low"}
NEEDS_PG = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs PostgreSQL's row locks"
)


@pytest.fixture
def charges_queued(monkeypatch) -> list[int]:
    """Charge capture queued on commit by a signature (recorded instead of run)."""
    queued: list[int] = []
    monkeypatch.setattr(charges_for_note_task, "delay", lambda *, practice_id, note_id: queued.append(note_id))
    return queued


@pytest.fixture
def clinician(make_member, practice_a, practice_b):
    return make_member(practice_a, Role.CLINICIAN, email="cara@riverside.test", title="LCSW")


def _ready_drafts(practice, clinician, count: int) -> list[ProgressNote]:
    with scopes_disabled():
        template = cf.NoteTemplateFactory(practice=practice)
        patient = cf.PatientFactory(practice=practice, primary_clinician=clinician)
    with practice_scope(practice):
        drafts = []
        for _ in range(count):
            note = services.note_create(
                author=clinician, patient=patient, template=template, session_on=timezone.localdate()
            )
            note, _ = services.note_update_draft(note=note, by=clinician, fields={"content": FILLED, **RISK})
            drafts.append(note)
        return drafts


def _status_changes_logged(note: ProgressNote) -> list[dict]:
    """The audit rows recording a change of the note's status."""
    with scopes_disabled():
        rows = AuditLogEntry.all_objects.filter(
            content_type=ContentType.objects.get_for_model(ProgressNote), object_pk=str(note.pk), action=1
        )
        return [row.changes_dict["status"] for row in rows if "status" in row.changes_dict]


@NEEDS_PG
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_devices_signing_one_note_at_once_sign_it_once(practice_a, clinician, charges_queued):
    (note,) = _ready_drafts(practice_a, clinician, 1)

    def sign(_index: int) -> ProgressNote:
        with practice_scope(practice_a.pk):
            return services.note_sign(note=note, by=clinician, credential=DEFAULT_PASSWORD)

    results = race(2, sign)
    signed = [r for r in results if isinstance(r, ProgressNote)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(signed) == 1 and len(refused) == 1, results
    assert (refused[0].code, refused[0].message) == ("signed", services.SIGNED_NOTE_MESSAGE)
    with scopes_disabled():
        note.refresh_from_db()
    assert note.status == ProgressNote.Status.SIGNED and note.signed_at == signed[0].signed_at
    assert _status_changes_logged(note) == [["draft", "signed"]]  # one audited signature, no second
    assert charges_queued == [note.pk]  # charge capture queued once, by the winner
    assert [item for item in verify_chains() if isinstance(item, ChainBreak)] == []


@NEEDS_PG
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_devices_saving_and_signing_at_once_never_sign_the_other_devices_text(
    practice_a, clinician, charges_queued
):
    """What the editor's Sign button does on each device — save this device's text, then sign the
    revision that save produced — raced on several notes so both interleavings occur: per note one
    signature, of the text the successful device saved; the other device is told why."""
    rounds = 12
    drafts = _ready_drafts(practice_a, clinician, rounds)
    outcomes: list[tuple[ProgressNote, list[object], list[str]]] = []
    for note in drafts:
        texts = [f"Device {d}: plan agreed on {note.pk}." for d in range(2)]

        def save_then_sign(device: int, note=note, texts=texts) -> ProgressNote:
            with practice_scope(practice_a.pk):
                saved, _ = services.note_update_draft(
                    note=note, by=clinician, fields={"content": {**FILLED, "assessment": texts[device]}}
                )
                return services.note_sign(
                    note=saved, by=clinician, credential=DEFAULT_PASSWORD, expected_revision=saved.revision
                )

        outcomes.append((note, race(2, save_then_sign), texts))

    with scopes_disabled():
        for note, results, texts in outcomes:
            signed = [i for i, r in enumerate(results) if isinstance(r, ProgressNote)]
            refused = [r for r in results if isinstance(r, DomainError)]
            assert len(signed) == 1 and len(refused) == 1, results
            # refused because it was signed first ("signed"), or because the other device saved
            # over this one's text before the signature ("changed")
            assert refused[0].code in ("signed", "changed")
            note.refresh_from_db()
            assert note.status == ProgressNote.Status.SIGNED
            assert note.content["assessment"] == texts[signed[0]]
            assert note.content_hash == note.compute_content_hash()
            assert _status_changes_logged(note) == [["draft", "signed"]]
    assert sorted(charges_queued) == sorted(n.pk for n in drafts)


@pytest.mark.django_db
def test_a_save_from_another_device_between_saving_and_signing_refuses_the_signature(practice_a, clinician):
    """The interleaving the race above can hit, step by step (any database)."""
    (note,) = _ready_drafts(practice_a, clinician, 1)
    with practice_scope(practice_a):
        on_laptop, _ = services.note_update_draft(
            note=note, by=clinician, fields={"content": {**FILLED, "assessment": "Laptop text."}}
        )
        on_desktop, _ = services.note_update_draft(
            note=note, by=clinician, fields={"content": {**FILLED, "assessment": "Desktop text."}}
        )
        with pytest.raises(DomainError) as refused:
            services.note_sign(
                note=on_laptop, by=clinician, credential=DEFAULT_PASSWORD, expected_revision=on_laptop.revision
            )
        assert refused.value.code == "changed"
        assert "changed on another device" in refused.value.message
        note.refresh_from_db()
        assert note.status == ProgressNote.Status.DRAFT and note.signed_at is None

        signed = services.note_sign(
            note=on_desktop, by=clinician, credential=DEFAULT_PASSWORD, expected_revision=on_desktop.revision
        )
        assert signed.status == ProgressNote.Status.SIGNED
        assert signed.content["assessment"] == "Desktop text."
        with pytest.raises(DomainError) as again:
            services.note_sign(note=note, by=clinician, credential=DEFAULT_PASSWORD)
        assert again.value.code == "signed"
