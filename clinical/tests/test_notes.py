"""Unit tests of the notes services and selectors: drafts and autosave, the template engine,
signing with re-entered credentials, co-signing, addenda, psychotherapy notes, templates."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from clinical.forms_notes import NoteEditorForm
from clinical.models import NoteAddendum, NoteTemplate, ProgressNote
from clinical.selectors import notes as selectors
from clinical.services import notes as services
from clinical.tests import factories as cf
from conftest import DEFAULT_PASSWORD
from practice.errors import DomainError
from practice.models import AuditLogEntry
from practice.permissions import Role
from practice.scoping import practice_scope, scopes_disabled
from practice.tests.factories import LocationFactory, totp_device_for, totp_now

pytestmark = pytest.mark.django_db

FILLED = {
    "subjective": "Slept better; one panic episode.",
    "objective": "Calm, good eye contact.",
    "assessment": "Improving with exposure work.",
    "plan_next": "Continue exposure; next week.",
}
RISK = {"risk_ideation": "none", "risk_level": "low"}


@pytest.fixture
def scope_a(practice_a):
    with practice_scope(practice_a):
        yield practice_a


@pytest.fixture
def clinician(make_member, practice_a):
    return make_member(practice_a, Role.CLINICIAN, email="cara@riverside.test", title="LCSW")


@pytest.fixture
def supervisor(make_member, practice_a):
    return make_member(practice_a, Role.SUPERVISOR, email="sam@riverside.test", title="LPC-S")


@pytest.fixture
def trainee(make_member, practice_a, supervisor):
    return make_member(practice_a, Role.CLINICIAN, email="tia@riverside.test", is_licensed=False, supervisor=supervisor)


@pytest.fixture
def soap(practice_a):
    with scopes_disabled():
        return cf.NoteTemplateFactory(practice=practice_a)


@pytest.fixture
def patient(practice_a, clinician):
    with scopes_disabled():
        return cf.PatientFactory(practice=practice_a, primary_clinician=clinician)


def _draft(author, patient, template, **fields):
    return services.note_create(
        author=author, patient=patient, template=template, session_on=timezone.localdate(), **fields
    )


def _ready(note, by):
    note, _ = services.note_update_draft(note=note, by=by, fields={"content": FILLED, **RISK})
    return note


# --- note_create -------------------------------------------------------------------------------


def test_note_create_copies_kind_and_default_service_code_from_template(scope_a, clinician, patient, soap):
    note = _draft(clinician, patient, soap)
    assert note.kind == NoteTemplate.Kind.PROGRESS_SOAP
    assert note.service_code == "90834"
    assert note.status == ProgressNote.Status.DRAFT
    assert set(note.content) == set(FILLED)
    assert note.revision == 1 and note.content_hash == note.compute_content_hash()


def test_telehealth_place_of_service_is_10_at_home_and_02_elsewhere(scope_a, clinician, patient, soap):
    home = _draft(clinician, patient, soap, modality="telehealth", patient_at_home=True)
    elsewhere = _draft(clinician, patient, soap, modality="telehealth", patient_at_home=False)
    assert (home.place_of_service, elsewhere.place_of_service) == ("10", "02")


def test_in_person_uses_the_locations_place_of_service_or_11(scope_a, practice_a, clinician, patient, soap):
    school = LocationFactory(practice=practice_a, place_of_service="03")
    assert _draft(clinician, patient, soap, modality="in_person", location=school).place_of_service == "03"
    assert _draft(clinician, patient, soap, modality="in_person").place_of_service == "11"


def test_note_create_outside_caseload_is_refused(scope_a, make_member, practice_a, patient, soap):
    stranger = make_member(practice_a, Role.CLINICIAN, email="stranger@riverside.test")
    with pytest.raises(DomainError) as exc:
        _draft(stranger, patient, soap)
    assert exc.value.code == "not_found"


def test_front_desk_cannot_write_notes(scope_a, make_member, practice_a, patient, soap):
    desk = make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test")
    with pytest.raises(DomainError) as exc:
        _draft(desk, patient, soap)
    assert exc.value.code == "forbidden"


def test_note_create_refuses_another_practices_template(scope_a, clinician, patient, practice_b):
    with scopes_disabled():
        foreign = cf.NoteTemplateFactory(practice=practice_b)
    with pytest.raises(DomainError):
        _draft(clinician, patient, foreign)


# --- drafts and autosave -----------------------------------------------------------------------


def test_repeated_autosave_with_same_content_writes_nothing(scope_a, clinician, patient, soap):
    note = _draft(clinician, patient, soap)
    note, changed = services.note_update_draft(note=note, by=clinician, fields={"content": FILLED})
    assert changed and note.revision == 2
    stored = ProgressNote.objects.get(pk=note.pk)
    audit_before = AuditLogEntry.objects.count()

    _again, changed = services.note_update_draft(note=note, by=clinician, fields={"content": dict(FILLED)})

    assert changed is False
    fresh = ProgressNote.objects.get(pk=note.pk)
    assert (fresh.updated_at, fresh.revision) == (stored.updated_at, stored.revision) == (stored.updated_at, 2)
    assert AuditLogEntry.objects.count() == audit_before


def test_browser_line_endings_do_not_count_as_a_change(scope_a, clinician, patient, soap):
    note = _draft(clinician, patient, soap)
    note, _ = services.note_update_draft(note=note, by=clinician, fields={"content": {"subjective": "a\nb"}})
    _, changed = services.note_update_draft(note=note, by=clinician, fields={"content": {"subjective": "a\r\nb"}})
    assert changed is False


def test_only_the_author_edits_a_draft(scope_a, clinician, supervisor, patient, soap):
    note = _draft(clinician, patient, soap)
    with pytest.raises(DomainError) as exc:
        services.note_update_draft(note=note, by=supervisor, fields={"plan": "x"})
    assert exc.value.code == "forbidden"


def test_unknown_section_key_is_refused(scope_a, clinician, patient, soap):
    note = _draft(clinician, patient, soap)
    with pytest.raises(DomainError) as exc:
        services.note_update_draft(note=note, by=clinician, fields={"content": {"nonsense": "text"}})
    assert exc.value.field == "content"
    assert ProgressNote.objects.get(pk=note.pk).revision == 1


def test_end_time_before_start_is_refused_unless_it_crosses_midnight(scope_a, clinician, patient, soap):
    note = _draft(clinician, patient, soap)
    with pytest.raises(DomainError) as exc:
        services.note_update_draft(note=note, by=clinician, fields={"start_time": time(15), "end_time": time(10)})
    assert exc.value.field == "end_time"
    with pytest.raises(DomainError):
        services.note_update_draft(note=note, by=clinician, fields={"start_time": time(10), "end_time": time(10)})
    note, _ = services.note_update_draft(
        note=note, by=clinician, fields={"start_time": time(23, 30), "end_time": time(0, 20)}
    )
    assert note.duration_minutes == 50


def test_duration_is_derived_across_midnight():
    note = ProgressNote(session_on=date(2026, 3, 1), start_time=time(23, 10), end_time=time(0, 5))
    assert note.duration_minutes == 55
    assert services.session_minutes(date(2026, 3, 1), time(10), time(10, 53)) == 53


def test_interventions_must_come_from_the_list(scope_a, clinician, patient, soap):
    note = _draft(clinician, patient, soap)
    with pytest.raises(DomainError):
        services.note_update_draft(note=note, by=clinician, fields={"interventions": ["Astrology"]})
    note, _ = services.note_update_draft(
        note=note, by=clinician, fields={"interventions": ["Mindfulness", "Psychoeducation"]}
    )
    assert note.interventions == ["Psychoeducation", "Mindfulness"]  # the list's own order


# --- template engine -----------------------------------------------------------------------------


def test_editor_form_has_one_textarea_per_template_section_with_label_and_help(scope_a, clinician, patient):
    template = NoteTemplate.objects.create(
        practice=scope_a,
        name="Brief check-in",
        kind="dap",
        sections=[
            {"key": "data", "label": "What happened", "help": "In their words.", "required": True},
            {"key": "next", "label": "Next", "help": "", "required": False},
        ],
        includes_risk_assessment=False,
    )
    note = _draft(clinician, patient, template)
    form = NoteEditorForm(template=template, note=note)
    assert form.section_names == ["section_data", "section_next"]
    assert form.fields["section_data"].label == "What happened"
    assert form.fields["section_data"].help_text == "In their words."
    assert form.fields["section_data"].is_required_to_sign is True
    assert "risk_level" not in form.fields
    html = str(form["section_data"])
    assert "<textarea" in html


def test_required_sections_are_enforced_at_signing(scope_a, clinician, patient, soap):
    note = _draft(clinician, patient, soap)
    services.note_update_draft(note=note, by=clinician, fields={"content": {"subjective": "Only this"}, **RISK})
    with pytest.raises(DomainError) as exc:
        services.note_sign(note=note, by=clinician, credential=DEFAULT_PASSWORD)
    assert "Assessment" in exc.value.message
    assert ProgressNote.objects.get(pk=note.pk).status == ProgressNote.Status.DRAFT


def test_risk_assessment_is_required_when_the_template_includes_it(scope_a, clinician, patient, soap):
    note = _draft(clinician, patient, soap)
    services.note_update_draft(note=note, by=clinician, fields={"content": FILLED, "risk_ideation": "none"})
    with pytest.raises(DomainError) as exc:
        services.note_sign(note=note, by=clinician, credential=DEFAULT_PASSWORD)
    assert "risk level" in exc.value.message


def test_template_without_risk_assessment_signs_without_it(scope_a, clinician, patient, soap):
    soap.includes_risk_assessment = False
    soap.save()
    note = _draft(clinician, patient, soap)
    services.note_update_draft(note=note, by=clinician, fields={"content": FILLED})
    assert services.note_sign(note=note, by=clinician, credential=DEFAULT_PASSWORD).status == "signed"


# --- signing -------------------------------------------------------------------------------------


def test_licensed_author_signs_with_password(scope_a, clinician, patient, soap):
    note = _ready(_draft(clinician, patient, soap), clinician)
    signed = services.note_sign(note=note, by=clinician, credential=DEFAULT_PASSWORD)
    assert signed.status == ProgressNote.Status.SIGNED and signed.signed_at is not None
    assert signed.cosigner is None
    assert ProgressNote.objects.get(pk=note.pk).content_hash == signed.compute_content_hash()


def test_wrong_password_is_refused_and_the_note_stays_a_draft(scope_a, clinician, patient, soap):
    note = _ready(_draft(clinician, patient, soap), clinician)
    with pytest.raises(DomainError) as exc:
        services.note_sign(note=note, by=clinician, credential="not my password")
    assert exc.value.field == "credential"
    assert ProgressNote.objects.get(pk=note.pk).status == ProgressNote.Status.DRAFT


def test_current_totp_code_is_accepted_for_a_user_with_mfa(scope_a, clinician, patient, soap):
    device = totp_device_for(clinician.user)
    note = _ready(_draft(clinician, patient, soap), clinician)
    assert services.note_sign(note=note, by=clinician, credential=totp_now(device)).status == "signed"


def test_password_is_also_accepted_for_a_user_with_mfa(scope_a, clinician, patient, soap):
    totp_device_for(clinician.user)
    note = _ready(_draft(clinician, patient, soap), clinician)
    assert services.note_sign(note=note, by=clinician, credential=DEFAULT_PASSWORD).status == "signed"


def test_recovery_code_is_accepted_once(scope_a, clinician, patient, soap):
    totp_device_for(clinician.user)  # recovery codes come with an authenticator
    device = StaticDevice.objects.create(user=clinician.user, name="backup", confirmed=True)
    StaticToken.objects.create(device=device, token="rcvy1234")
    first = _ready(_draft(clinician, patient, soap), clinician)
    second = _ready(_draft(clinician, patient, soap), clinician)
    services.note_sign(note=first, by=clinician, credential="rcvy1234")
    with pytest.raises(DomainError):
        services.note_sign(note=second, by=clinician, credential="rcvy1234")


def test_totp_code_is_refused_for_a_user_without_mfa(scope_a, clinician, patient, soap):
    note = _ready(_draft(clinician, patient, soap), clinician)
    with pytest.raises(DomainError):
        services.note_sign(note=note, by=clinician, credential="123456")


def test_only_the_author_can_sign(scope_a, clinician, supervisor, patient, soap):
    note = _ready(_draft(clinician, patient, soap), clinician)
    with pytest.raises(DomainError) as exc:
        services.note_sign(note=note, by=supervisor, credential=DEFAULT_PASSWORD)
    assert exc.value.code == "forbidden"


def test_signed_note_cannot_be_changed(scope_a, clinician, patient, soap):
    note = services.note_sign(
        note=_ready(_draft(clinician, patient, soap), clinician), by=clinician, credential=DEFAULT_PASSWORD
    )
    with pytest.raises(DomainError) as exc:
        services.note_update_draft(note=note, by=clinician, fields={"plan": "changed"})
    assert exc.value.message == "Signed notes cannot be changed; add an addendum."
    with pytest.raises(DomainError) as exc:
        services.note_sign(note=note, by=clinician, credential=DEFAULT_PASSWORD)
    assert exc.value.message == "Signed notes cannot be changed; add an addendum."


# --- co-signing ----------------------------------------------------------------------------------


def _trainee_note(trainee, practice, clinician_patient_owner=None):
    patient = cf.PatientFactory(practice=practice, primary_clinician=trainee)
    template = cf.NoteTemplateFactory(practice=practice)
    note = _ready(_draft(trainee, patient, template), trainee)
    return services.note_sign(note=note, by=trainee, credential=DEFAULT_PASSWORD)


def test_pre_licensed_signature_waits_for_the_supervisor(scope_a, trainee, supervisor):
    note = _trainee_note(trainee, scope_a)
    assert note.status == ProgressNote.Status.AWAITING_COSIGN
    assert note.cosigner_id == supervisor.pk and note.signed_at is not None
    assert not note.is_complete
    assert list(selectors.cosign_queue(supervisor)) == [note]


def test_pre_licensed_author_without_supervisor_cannot_sign(scope_a, make_member, practice_a, soap):
    alone = make_member(practice_a, Role.CLINICIAN, email="alone@riverside.test", is_licensed=False)
    patient = cf.PatientFactory(practice=practice_a, primary_clinician=alone)
    note = _ready(_draft(alone, patient, soap), alone)
    with pytest.raises(DomainError) as exc:
        services.note_sign(note=note, by=alone, credential=DEFAULT_PASSWORD)
    assert "supervisor" in exc.value.message


def test_supervisor_cosigns_and_the_note_is_complete(scope_a, trainee, supervisor):
    note = _trainee_note(trainee, scope_a)
    done = services.note_cosign(note=note, by=supervisor, credential=DEFAULT_PASSWORD)
    assert done.status == ProgressNote.Status.SIGNED and done.cosigned_at is not None and done.is_complete
    assert list(selectors.cosign_queue(supervisor)) == []


def test_cosign_needs_the_right_person_and_credential(scope_a, trainee, supervisor, clinician, make_member, practice_a):
    note = _trainee_note(trainee, scope_a)
    other_supervisor = make_member(practice_a, Role.SUPERVISOR, email="other@riverside.test")
    for who in (clinician, other_supervisor, trainee):
        with pytest.raises(DomainError) as exc:
            services.note_cosign(note=note, by=who, credential=DEFAULT_PASSWORD)
        assert exc.value.code == "forbidden"
    with pytest.raises(DomainError):
        services.note_cosign(note=note, by=supervisor, credential="wrong")
    assert ProgressNote.objects.get(pk=note.pk).status == ProgressNote.Status.AWAITING_COSIGN


def test_cosign_of_a_note_not_waiting_is_refused(scope_a, clinician, supervisor, patient, soap):
    note = _draft(clinician, patient, soap)
    with pytest.raises(DomainError):
        services.note_cosign(note=note, by=supervisor, credential=DEFAULT_PASSWORD)


# --- addenda -------------------------------------------------------------------------------------


def test_addendum_only_on_locked_notes(scope_a, clinician, patient, soap):
    note = _draft(clinician, patient, soap)
    with pytest.raises(DomainError):
        services.addendum_add(note=note, by=clinician, reason="x", text="y")


def test_author_cosigner_and_caseload_colleague_may_add_addenda(scope_a, trainee, supervisor, make_member, practice_a):
    note = _trainee_note(trainee, scope_a)
    colleague = make_member(practice_a, Role.CLINICIAN, email="coll@riverside.test")
    from practice.services import object_access_grant

    owner = make_member(practice_a, Role.OWNER, email="own@riverside.test")
    object_access_grant(by=owner, to=colleague, obj=note.patient)
    for who in (trainee, supervisor, colleague):
        services.addendum_add(note=note, by=who, reason="Clarification", text=f"by {who.pk}")
    assert NoteAddendum.objects.filter(note=note).count() == 3


def test_addendum_refused_for_outsiders_and_front_desk(scope_a, clinician, patient, soap, make_member, practice_a):
    note = services.note_sign(
        note=_ready(_draft(clinician, patient, soap), clinician), by=clinician, credential=DEFAULT_PASSWORD
    )
    stranger = make_member(practice_a, Role.CLINICIAN, email="stranger@riverside.test")
    desk = make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test")
    for who in (stranger, desk):
        with pytest.raises(DomainError) as exc:
            services.addendum_add(note=note, by=who, reason="x", text="y")
        assert exc.value.code == "forbidden"


def test_addendum_needs_reason_and_text(scope_a, clinician, patient, soap):
    note = services.note_sign(
        note=_ready(_draft(clinician, patient, soap), clinician), by=clinician, credential=DEFAULT_PASSWORD
    )
    with pytest.raises(DomainError) as exc:
        services.addendum_add(note=note, by=clinician, reason=" ", text="y")
    assert exc.value.field == "reason"
    with pytest.raises(DomainError) as exc:
        services.addendum_add(note=note, by=clinician, reason="Correction", text="")
    assert exc.value.field == "text"
    added = services.addendum_add(note=note, by=clinician, reason="Correction", text="Session was 53 min.")
    assert (added.author, added.practice_id) == (clinician, note.practice_id)


# --- psychotherapy notes -------------------------------------------------------------------------


def test_psychotherapy_note_is_edited_by_its_author_only(scope_a, clinician, supervisor, patient):
    note = services.psychotherapy_note_save(
        author=clinician, patient=patient, session_on=timezone.localdate(), body="Process notes."
    )
    with pytest.raises(DomainError) as exc:
        services.psychotherapy_note_save(
            author=supervisor, patient=patient, session_on=note.session_on, body="Mine now", note=note
        )
    assert exc.value.code == "not_found"
    services.psychotherapy_note_save(
        author=clinician, patient=patient, session_on=note.session_on, body="Edited", note=note
    )
    assert list(selectors.psychotherapy_notes_of(author=supervisor, patient=patient)) == []
    assert [n.body for n in selectors.psychotherapy_notes_of(author=clinician, patient=patient)] == ["Edited"]


# --- note templates ------------------------------------------------------------------------------


@pytest.fixture
def owner(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="owner@riverside.test")


def test_builtin_templates_can_be_copied_but_not_edited(scope_a, owner, soap):
    soap.is_builtin = True
    soap.save()
    with pytest.raises(DomainError):
        services.note_template_update(
            template=soap,
            by=owner,
            name="X",
            sections=soap.sections,
            includes_risk_assessment=True,
            default_service_code="90834",
            is_active=True,
        )
    copy = services.note_template_copy(template=soap, by=owner, name="Our SOAP")
    assert (copy.is_builtin, copy.based_on, copy.sections) == (False, soap, soap.sections)
    updated = services.note_template_update(
        template=copy,
        by=owner,
        name="Our SOAP",
        sections=[{"key": "summary", "label": "Summary", "help": "", "required": True}, *soap.sections[:2]],
        includes_risk_assessment=False,
        default_service_code="90837",
        is_active=True,
    )
    assert [s["key"] for s in updated.sections] == ["summary", "subjective", "objective"]


@pytest.mark.parametrize(
    "sections",
    [
        [],
        [{"key": "a", "label": "A"}, {"key": "a", "label": "Again"}],
        [{"key": "ok", "label": "  "}],
        [{"key": "Bad Key", "label": "Bad"}],
    ],
)
def test_template_sections_are_validated(scope_a, owner, soap, sections):
    copy = services.note_template_copy(template=soap, by=owner, name="Copy")
    with pytest.raises(DomainError):
        services.note_template_update(
            template=copy,
            by=owner,
            name="Copy",
            sections=sections,
            includes_risk_assessment=True,
            default_service_code="",
            is_active=True,
        )


def test_template_copy_needs_settings_permission_and_a_free_name(scope_a, owner, clinician, soap):
    with pytest.raises(DomainError) as exc:
        services.note_template_copy(template=soap, by=clinician, name="Mine")
    assert exc.value.code == "forbidden"
    with pytest.raises(DomainError) as exc:
        services.note_template_copy(template=soap, by=owner, name=soap.name)
    assert exc.value.field == "name"


# --- outstanding work ----------------------------------------------------------------------------


def test_outstanding_work_lists_drafts_oldest_first_with_age(scope_a, clinician, patient, soap):
    today = timezone.localdate()
    old = services.note_create(author=clinician, patient=patient, template=soap, session_on=today - timedelta(days=5))
    new = services.note_create(author=clinician, patient=patient, template=soap, session_on=today)
    signed = _ready(_draft(clinician, patient, soap), clinician)
    services.note_sign(note=signed, by=clinician, credential=DEFAULT_PASSWORD)
    work = selectors.outstanding_work(clinician)
    assert [n.pk for n in work["drafts"]] == [old.pk, new.pk]
    assert [n.age_days for n in work["drafts"]] == [5, 0]


def test_outstanding_work_lists_plans_due_within_14_days_or_past(scope_a, clinician, patient):
    today = timezone.localdate()
    due = cf.TreatmentPlanFactory(patient=patient, author=clinician, review_on=today + timedelta(days=10))
    other = cf.PatientFactory(practice=scope_a, primary_clinician=clinician)
    overdue = cf.TreatmentPlanFactory(patient=other, author=clinician, review_on=today - timedelta(days=3))
    later = cf.PatientFactory(practice=scope_a, primary_clinician=clinician)
    cf.TreatmentPlanFactory(patient=later, author=clinician, review_on=today + timedelta(days=40))
    plans = selectors.outstanding_work(clinician)["plans_due"]
    assert [p.pk for p in plans] == [overdue.pk, due.pk]
    assert plans[0].is_overdue


def test_outstanding_work_queries_are_bounded(scope_a, trainee, supervisor, django_assert_max_num_queries):
    def count():
        with django_assert_max_num_queries(4):
            work = selectors.outstanding_work(supervisor)
        return len(work["to_cosign"])

    _trainee_note(trainee, scope_a)
    assert count() == 1
    for _ in range(4):
        _trainee_note(trainee, scope_a)
    assert count() == 5
