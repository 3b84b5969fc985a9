"""Note pages through the views, for each role: the editor and autosave, signing, co-signing,
addenda, the co-sign queue, "My work", note templates, psychotherapy notes and access events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from clinical.models import NoteTemplate, ProgressNote, PsychotherapyNote
from clinical.services import notes as services
from clinical.tests import factories as cf
from conftest import DEFAULT_PASSWORD
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope, scopes_disabled
from practice.tests.factories import sign_in

pytestmark = pytest.mark.django_db

SLUG = "riverside"
FILLED = {
    "subjective": "Slept better; one panic episode.",
    "objective": "Calm, good eye contact.",
    "assessment": "Panic symptoms easing with exposure work.",
    "plan_next": "Continue exposure; next week.",
}


def url(name, **kwargs):
    return reverse(name, kwargs={"practice_slug": SLUG, **kwargs})


def maybe_url(name, **kwargs):
    try:
        return url(name, **kwargs)
    except NoReverseMatch:
        return None


def editor_post(note, **overrides):
    data = {
        "session_on": note.session_on.isoformat(),
        "start_time": "10:00",
        "end_time": "10:53",
        "service_code": "90837",
        "modality": "in_person",
        "telehealth_place": "10",
        "location": "",
        "participants": "Patient",
        "risk_ideation": "none",
        "risk_plan": "no",
        "risk_intent": "no",
        "risk_means": "no",
        "risk_protective_factors": "Supportive partner",
        "risk_level": "low",
        "interventions": ["Cognitive behavioural therapy (CBT)"],
        **{f"section_{k}": v for k, v in FILLED.items()},
    }
    data.update(overrides)
    return data


@pytest.fixture
def world(practice_a, make_member):
    owner = make_member(practice_a, Role.OWNER, email="owner@riverside.test")
    admin = make_member(practice_a, Role.ADMIN, email="admin@riverside.test")
    supervisor = make_member(practice_a, Role.SUPERVISOR, email="sup@riverside.test", title="LPC-S")
    clinician = make_member(
        practice_a, Role.CLINICIAN, email="cara@riverside.test", title="LCSW", supervisor=supervisor
    )
    trainee = make_member(
        practice_a, Role.CLINICIAN, email="tia@riverside.test", is_licensed=False, supervisor=supervisor
    )
    stranger = make_member(practice_a, Role.CLINICIAN, email="stranger@riverside.test")
    desk = make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test")
    biller = make_member(practice_a, Role.BILLER, email="biller@riverside.test")
    with practice_scope(practice_a):
        template = cf.NoteTemplateFactory(practice=practice_a)
        patient = cf.PatientFactory(practice=practice_a, primary_clinician=clinician)
        note = services.note_create(
            author=clinician, patient=patient, template=template, session_on=timezone.localdate()
        )
    return locals() | {"practice": practice_a}


def as_(member):
    return sign_in(Client(), member)


def signed_note(world):
    with practice_scope(world["practice"]):
        note, _ = services.note_update_draft(
            note=world["note"],
            by=world["clinician"],
            fields={"content": FILLED, "risk_ideation": "none", "risk_level": "low"},
        )
        return services.note_sign(note=note, by=world["clinician"], credential=DEFAULT_PASSWORD)


def reload(note):
    with scopes_disabled():
        return ProgressNote.all_objects.get(pk=note.pk)


# --- editor and autosave -----------------------------------------------------------------------


def test_editor_is_rendered_from_the_templates_sections(world):
    note = world["note"]
    body = as_(world["clinician"]).get(url("note_edit", note_id=note.public_id)).content.decode()
    for section in note.template.sections:
        assert f'name="section_{section["key"]}"' in body and section["label"] in body
    assert body.count("<textarea") >= 5  # four sections + protective factors
    assert 'hx-trigger="input changed delay:2s' in body
    assert "90837" in body and "Psychotherapy, 60 min" in body and "90785" in body
    assert "Risk assessment" in body and "Suicidal ideation" in body
    assert "Cognitive behavioural therapy (CBT)" in body
    assert "localStorage" not in body


def test_autosave_saves_then_a_repeat_is_a_no_op(world):
    note = world["note"]
    client = as_(world["clinician"])
    first = client.post(url("note_autosave", note_id=note.public_id), editor_post(note), HTTP_HX_REQUEST="true")
    assert first.status_code == 200 and "Saved" in first.content.decode()
    saved = reload(note)
    assert saved.content == FILLED and saved.service_code == "90837" and saved.duration_minutes == 53

    again = client.post(url("note_autosave", note_id=note.public_id), editor_post(note), HTTP_HX_REQUEST="true")
    assert "No changes" in again.content.decode()
    after = reload(note)
    assert (after.revision, after.updated_at) == (saved.revision, saved.updated_at)


def test_autosave_shows_validation_problems_and_changes_nothing(world):
    note = world["note"]
    response = as_(world["clinician"]).post(
        url("note_autosave", note_id=note.public_id), editor_post(note, start_time="15:00", end_time="10:00")
    )
    assert response.status_code == 200 and "Not saved" in response.content.decode()
    assert reload(note).revision == 1


def test_autosave_of_a_signed_note_is_refused_with_409(world):
    note = signed_note(world)
    response = as_(world["clinician"]).post(url("note_autosave", note_id=note.public_id), editor_post(note))
    assert response.status_code == 409
    assert "signed" in response.content.decode()


def test_save_draft_button_works_without_javascript(world):
    note = world["note"]
    response = as_(world["clinician"]).post(url("note_edit", note_id=note.public_id), editor_post(note))
    assert response.status_code == 302
    assert reload(note).content["assessment"] == FILLED["assessment"]


def test_telehealth_from_the_editor_sets_place_of_service(world):
    note = world["note"]
    as_(world["clinician"]).post(
        url("note_edit", note_id=note.public_id), editor_post(note, modality="telehealth", telehealth_place="02")
    )
    assert reload(note).place_of_service == "02"


def test_another_clinicians_draft_is_not_editable(world):
    note = world["note"]
    response = as_(world["supervisor"]).post(url("note_autosave", note_id=note.public_id), editor_post(note))
    assert response.status_code == 403
    assert reload(note).revision == 1


# --- signing -----------------------------------------------------------------------------------


def test_sign_from_the_editor_saves_the_latest_text_then_signs(world):
    note = world["note"]
    response = as_(world["clinician"]).post(
        url("note_sign", note_id=note.public_id), editor_post(note, credential=DEFAULT_PASSWORD)
    )
    assert response.status_code == 302 and response.url == url("note_detail", note_id=note.public_id)
    signed = reload(note)
    assert signed.status == "signed" and signed.content == FILLED


def test_sign_with_a_wrong_password_is_refused_and_keeps_the_text(world):
    note = world["note"]
    response = as_(world["clinician"]).post(
        url("note_sign", note_id=note.public_id), editor_post(note, credential="nope")
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "not right" in body and FILLED["assessment"] in body
    stored = reload(note)
    assert stored.status == "draft" and stored.content == FILLED


def test_signing_with_missing_sections_says_what_is_missing(world):
    note = world["note"]
    response = as_(world["clinician"]).post(
        url("note_sign", note_id=note.public_id),
        editor_post(note, section_assessment="", credential=DEFAULT_PASSWORD),
    )
    assert response.status_code == 400 and "Assessment" in response.content.decode()
    assert reload(note).status == "draft"


def test_signed_note_page_shows_signature_line_and_cannot_be_edited(world):
    note = signed_note(world)
    client = as_(world["clinician"])
    body = client.get(url("note_detail", note_id=note.public_id)).content.decode()
    assert "Electronically signed by" in body and world["clinician"].user.display_name in body and "LCSW" in body
    assert "Add addendum" in body
    edit = client.get(url("note_edit", note_id=note.public_id))
    assert edit.status_code == 302 and edit.url == url("note_detail", note_id=note.public_id)


def test_addendum_through_the_view(world):
    note = signed_note(world)
    client = as_(world["clinician"])
    response = client.post(
        url("note_addendum", note_id=note.public_id), {"reason": "Correction", "text": "Session was 53 minutes."}
    )
    assert response.status_code == 302
    body = client.get(url("note_detail", note_id=note.public_id)).content.decode()
    assert "Session was 53 minutes." in body and "Reason: Correction" in body
    bad = client.post(url("note_addendum", note_id=note.public_id), {"reason": "", "text": "x"})
    assert bad.status_code == 400


# --- co-signing --------------------------------------------------------------------------------


@pytest.fixture
def trainee_note(world):
    trainee = world["trainee"]
    with practice_scope(world["practice"]):
        patient = cf.PatientFactory(practice=world["practice"], primary_clinician=trainee)
        note = services.note_create(
            author=trainee, patient=patient, template=world["template"], session_on=timezone.localdate()
        )
        services.note_update_draft(
            note=note, by=trainee, fields={"content": FILLED, "risk_ideation": "none", "risk_level": "low"}
        )
        return services.note_sign(note=note, by=trainee, credential=DEFAULT_PASSWORD)


def test_cosign_queue_lists_supervisees_notes_and_cosign_completes_them(world, trainee_note):
    client = as_(world["supervisor"])
    queue = client.get(url("cosign_queue")).content.decode()
    assert trainee_note.patient.display_name in queue
    detail = client.get(url("note_detail", note_id=trainee_note.public_id)).content.decode()
    assert "Co-sign note" in detail and "Awaiting co-signature" in detail
    wrong = client.post(url("note_cosign", note_id=trainee_note.public_id), {"credential": "nope"})
    assert wrong.status_code == 400 and reload(trainee_note).status == "awaiting_cosign"
    done = client.post(url("note_cosign", note_id=trainee_note.public_id), {"credential": DEFAULT_PASSWORD})
    assert done.status_code == 302 and reload(trainee_note).status == "signed"
    body = client.get(url("note_detail", note_id=trainee_note.public_id)).content.decode()
    assert "Co-signed by" in body
    assert trainee_note.patient.display_name not in client.get(url("cosign_queue")).content.decode()


def test_cosign_queue_needs_the_cosign_permission(world):
    assert as_(world["clinician"]).get(url("cosign_queue")).status_code == 403
    assert as_(world["supervisor"]).get(url("cosign_queue")).status_code == 200


def test_cosign_queue_query_count_is_bounded(world, django_assert_max_num_queries):
    supervisor = world["supervisor"]
    client = as_(supervisor)

    def make(n):
        with practice_scope(world["practice"]):
            for _ in range(n):
                cf.ProgressNoteFactory(
                    patient=cf.PatientFactory(practice=world["practice"], primary_clinician=world["trainee"]),
                    author=world["trainee"],
                    template=world["template"],
                    status="awaiting_cosign",
                    signed_at=timezone.now(),
                    cosigner=supervisor,
                )

    make(3)
    with django_assert_max_num_queries(30):
        assert client.get(url("cosign_queue")).status_code == 200
    make(27)
    with django_assert_max_num_queries(30):
        assert client.get(url("cosign_queue")).status_code == 200


# --- my work and dashboard ---------------------------------------------------------------------


def test_my_work_lists_drafts_with_age_and_plans_due(world, django_assert_max_num_queries):
    clinician = world["clinician"]
    with practice_scope(world["practice"]), timezone.override(world["practice"].timezone):
        old = services.note_create(
            author=clinician,
            patient=world["patient"],
            template=world["template"],
            session_on=timezone.localdate() - timedelta(days=4),
        )
        cf.TreatmentPlanFactory(
            patient=world["patient"], author=clinician, review_on=timezone.localdate() + timedelta(days=3)
        )
    client = as_(clinician)
    with django_assert_max_num_queries(30):
        body = client.get(url("my_work")).content.decode()
    assert "4 days old" in body and url("note_edit", note_id=old.public_id) in body
    assert "in 3 days" in body


def test_my_work_query_count_does_not_grow_with_rows(world, django_assert_max_num_queries):
    clinician = world["clinician"]
    client = as_(clinician)

    def make(n):
        with practice_scope(world["practice"]):
            for _ in range(n):
                cf.ProgressNoteFactory(
                    patient=world["patient"], author=clinician, template=world["template"], status="draft"
                )

    make(3)
    with django_assert_max_num_queries(30):
        client.get(url("my_work"))
    make(27)
    with django_assert_max_num_queries(30):
        assert client.get(url("my_work")).content.decode().count("day") >= 30


def test_dashboard_shows_outstanding_counts_to_clinicians_and_placeholder_to_others(world):
    body = as_(world["clinician"]).get(reverse("practice_dashboard", kwargs={"practice_slug": SLUG})).content.decode()
    assert url("my_work") in body and "Unsigned drafts" in body
    desk = as_(world["desk"]).get(reverse("practice_dashboard", kwargs={"practice_slug": SLUG})).content.decode()
    assert "Outstanding notes" in desk and "Not available yet" in desk and url("my_work") not in desk


# --- who may see note pages --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["desk", "biller"])
def test_front_desk_and_biller_get_403_on_note_pages(world, role):
    client = as_(world[role])
    note = world["note"]
    assert client.get(url("note_detail", note_id=note.public_id)).status_code == 403
    assert client.get(url("note_edit", note_id=note.public_id)).status_code == 403
    assert client.post(url("note_autosave", note_id=note.public_id), editor_post(note)).status_code == 403
    assert client.get(url("note_create", patient_id=world["patient"].public_id)).status_code == 403
    assert client.get(url("my_work")).status_code == 403
    assert reload(note).revision == 1


def test_clinician_outside_the_caseload_is_sent_to_break_glass_or_404(world):
    note = world["note"]
    response = as_(world["stranger"]).get(url("note_detail", note_id=note.public_id))
    break_glass = maybe_url("patient_break_glass", patient_id=world["patient"].public_id)
    if break_glass:
        assert response.status_code == 302 and response.url == break_glass
    else:
        assert response.status_code == 404
    edit = as_(world["stranger"]).post(url("note_autosave", note_id=note.public_id), editor_post(note))
    assert edit.status_code in (302, 404) and reload(note).revision == 1


def test_break_glass_holder_may_read_the_note(world):
    with practice_scope(world["practice"]):
        cf.EmergencyAccessFactory(patient=world["patient"], membership=world["admin"])
    response = as_(world["admin"]).get(url("note_detail", note_id=world["note"].public_id))
    assert response.status_code == 200


def test_supervisor_reads_supervisees_note_but_cannot_edit_it(world):
    note = world["note"]
    client = as_(world["supervisor"])
    assert client.get(url("note_detail", note_id=note.public_id)).status_code == 200
    assert client.get(url("note_edit", note_id=note.public_id)).status_code == 302


# --- access events -----------------------------------------------------------------------------


def test_viewing_a_note_writes_an_access_event(world):
    note = world["note"]
    as_(world["clinician"]).get(url("note_detail", note_id=note.public_id))
    with scopes_disabled():
        event = AccessEvent.all_objects.filter(object_type="clinical.progressnote", action="view").latest("seq")
    assert event.object_id == str(note.public_id)
    assert event.patient_id == world["patient"].public_id
    assert event.user_id == world["clinician"].user_id


def test_opening_the_editor_writes_an_access_event(world):
    note = world["note"]
    as_(world["clinician"]).get(url("note_edit", note_id=note.public_id))
    with scopes_disabled():
        assert AccessEvent.all_objects.filter(object_id=str(note.public_id), action="view").exists()


# --- psychotherapy notes -----------------------------------------------------------------------


@pytest.fixture
def psychnote(world):
    with practice_scope(world["practice"]):
        return services.psychotherapy_note_save(
            author=world["clinician"],
            patient=world["patient"],
            session_on=timezone.localdate(),
            body="Transference themes: fear of abandonment.",
        )


def test_psychotherapy_note_is_shown_to_its_author_with_the_label(world, psychnote):
    client = as_(world["clinician"])
    body = client.get(url("psychotherapy_note_detail", psychnote_id=psychnote.public_id)).content.decode()
    assert "Psychotherapy note — kept separate from the medical record (45 CFR 164.501)" in body
    assert psychnote.body in body
    listing = client.get(url("psychotherapy_note_list", patient_id=world["patient"].public_id)).content.decode()
    assert str(psychnote.public_id) in listing


@pytest.mark.parametrize("who", ["owner", "supervisor", "admin", "stranger"])
def test_psychotherapy_note_is_404_for_everyone_but_its_author(world, psychnote, who):
    with practice_scope(world["practice"]):
        # even with an active break-the-glass access to the patient
        cf.EmergencyAccessFactory(patient=world["patient"], membership=world[who])
    client = as_(world[who])
    response = client.get(url("psychotherapy_note_detail", psychnote_id=psychnote.public_id))
    assert response.status_code == 404
    edit = client.post(
        url("psychotherapy_note_detail", psychnote_id=psychnote.public_id),
        {"session_on": timezone.localdate().isoformat(), "body": "overwritten"},
    )
    assert edit.status_code == 404
    with scopes_disabled():
        assert PsychotherapyNote.all_objects.get(pk=psychnote.pk).body == psychnote.body


@pytest.mark.parametrize("who", ["owner", "supervisor"])
def test_psychotherapy_note_never_appears_on_others_pages(world, psychnote, who):
    client = as_(world[who])
    listing = client.get(url("psychotherapy_note_list", patient_id=world["patient"].public_id))
    assert listing.status_code == 200
    assert str(psychnote.public_id) not in listing.content.decode()
    chart = maybe_url("patient_chart", patient_id=world["patient"].public_id)
    if chart:
        body = client.get(chart).content.decode()
        assert str(psychnote.public_id) not in body and psychnote.body not in body
    note_page = client.get(url("note_detail", note_id=world["note"].public_id)).content.decode()
    assert psychnote.body not in note_page


def test_psychotherapy_note_create_through_the_view(world):
    client = as_(world["clinician"])
    response = client.post(
        url("psychotherapy_note_create", patient_id=world["patient"].public_id),
        {"session_on": timezone.localdate().isoformat(), "body": "Process notes."},
    )
    assert response.status_code == 302
    with scopes_disabled():
        created = PsychotherapyNote.all_objects.get(author=world["clinician"])
    assert response.url == url("psychotherapy_note_detail", psychnote_id=created.public_id)


# --- note templates ----------------------------------------------------------------------------


def test_owner_copies_a_builtin_template_and_edits_its_sections(world):
    client = as_(world["owner"])
    with scopes_disabled():
        builtin = NoteTemplate.all_objects.filter(practice=world["practice"], is_builtin=True).first()
        if builtin is None:
            builtin = world["template"]
            builtin.is_builtin = True
            builtin.save()
    assert client.get(url("note_template_list")).status_code == 200
    refused = client.post(url("note_template_edit", template_id=builtin.public_id), {"name": "x"})
    assert refused.status_code == 302
    response = client.post(url("note_template_copy", template_id=builtin.public_id), {"name": "Our format"})
    assert response.status_code == 302
    with scopes_disabled():
        copy = NoteTemplate.all_objects.get(practice=world["practice"], name="Our format")
    data = {
        "name": "Our format",
        "default_service_code": "90837",
        "includes_risk_assessment": "on",
        "is_active": "on",
        "sections-TOTAL_FORMS": "3",
        "sections-INITIAL_FORMS": "2",
        "sections-MIN_NUM_FORMS": "0",
        "sections-MAX_NUM_FORMS": "1000",
        "sections-0-key": "first",
        "sections-0-label": "First",
        "sections-0-ORDER": "2",
        "sections-0-required": "on",
        "sections-1-key": "second",
        "sections-1-label": "Second",
        "sections-1-ORDER": "3",
        "sections-1-DELETE": "on",
        "sections-2-key": "added",
        "sections-2-label": "Added",
        "sections-2-ORDER": "1",
    }
    saved = client.post(url("note_template_edit", template_id=copy.public_id), data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    with scopes_disabled():
        copy.refresh_from_db()
    assert [s["key"] for s in copy.sections] == ["added", "first"]
    assert copy.sections[1]["required"] is True and copy.default_service_code == "90837"
    duplicate = dict(data, **{"sections-2-key": "first", "sections-1-DELETE": ""})
    assert client.post(url("note_template_edit", template_id=copy.public_id), duplicate).status_code == 400


def test_clinicians_cannot_manage_templates(world):
    client = as_(world["clinician"])
    assert client.get(url("note_template_list")).status_code == 403
    assert (
        client.post(url("note_template_copy", template_id=world["template"].public_id), {"name": "x"}).status_code
        == 403
    )
