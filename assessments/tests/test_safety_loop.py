"""The safety loop: an open risk alert is on My work and the dashboard, the alert page proposes an
earlier appointment from the open slots, and the patient's next progress note cannot be signed
without its risk assessment and safety plan (even on a template without a risk section); signing
it marks the alert addressed. End to end from a flagged PHQ-9 recorded through response_record."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from assessments.models import RiskAlert
from assessments.selectors_alerts import risk_requirements_for_note
from assessments.services import response_record
from assessments.services_alerts import risk_alert_acknowledge
from clinical.forms_notes import NoteEditorForm
from clinical.selectors.notes import outstanding_counts, outstanding_work
from clinical.services import notes as note_services
from clinical.tests import factories as cf
from conftest import DEFAULT_PASSWORD
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope, scopes_disabled
from practice.tests.factories import LocationFactory
from scheduling.tests import factories as sf

pytestmark = pytest.mark.django_db

PHQ9_ITEM9 = [2, 2, 1, 2, 1, 1, 2, 1, 1]
CONTENT = {"subjective": "S", "objective": "O", "assessment": "A", "plan_next": "P"}


@pytest.fixture
def cara(make_member, practice_a):
    return make_member(practice_a, Role.CLINICIAN, email="cara@riverside.test", full_name="Cara Lin")


@pytest.fixture
def patient(practice_a, cara):
    with scopes_disabled():
        return cf.PatientFactory(
            practice=practice_a, primary_clinician=cara, legal_first_name="Nora", legal_last_name="Vance"
        )


@pytest.fixture
def plain(practice_a):
    """A progress-note template WITHOUT a risk section."""
    with scopes_disabled():
        return cf.NoteTemplateFactory(practice=practice_a, name="Brief check-in", includes_risk_assessment=False)


@pytest.fixture
def alert(practice_a, patient, django_capture_on_commit_callbacks):
    with practice_scope(practice_a), django_capture_on_commit_callbacks(execute=True):
        response = response_record(patient=patient, instrument_code="PHQ-9", answers=PHQ9_ITEM9, mode="link")
        return RiskAlert.objects.get(response=response)


def _note(author, patient, template):
    return note_services.note_create(
        author=author, patient=patient, template=template, session_on=timezone.localdate(), content=CONTENT
    )


# --- Signing -------------------------------------------------------------------------------------


def test_a_note_without_a_risk_section_cannot_be_signed_while_an_alert_waits(practice_a, cara, patient, plain, alert):
    with practice_scope(practice_a):
        note = _note(cara, patient, plain)
        missing = note_services.missing_for_signature(note)
        when = timezone.localtime(alert.response.completed_at).date()
        assert missing == [f"Risk assessment and safety plan (open risk alert from PHQ-9 on {when.day} {when:%b})"]
        with pytest.raises(DomainError) as exc:
            note_services.note_sign(note=note, by=cara, credential=DEFAULT_PASSWORD)
        assert "Risk assessment and safety plan" in exc.value.message
        # ideation and level alone are not enough: the safety plan text is required too
        note, _ = note_services.note_update_draft(
            note=note, by=cara, fields={"risk_ideation": "passive", "risk_level": "moderate"}
        )
        assert note_services.missing_for_signature(note)
        note, _ = note_services.note_update_draft(
            note=note, by=cara, fields={"risk_protective_factors": "Sister nearby; safety plan reviewed, crisis line."}
        )
        assert note_services.missing_for_signature(note) == []
        signed = note_services.note_sign(note=note, by=cara, credential=DEFAULT_PASSWORD)
        alert.refresh_from_db()
        assert alert.addressed_by_note_id == signed.pk
        assert alert.status == RiskAlert.Status.OPEN  # the note answers it; acknowledging is separate
        # the next note no longer needs it
        nxt = _note(cara, patient, plain)
        assert risk_requirements_for_note(nxt) == []
        assert note_services.missing_for_signature(nxt) == []


def test_an_alert_acknowledged_as_not_significant_asks_nothing_of_the_note(practice_a, cara, patient, plain, alert):
    with practice_scope(practice_a):
        risk_alert_acknowledge(alert=alert, by=cara, action="not_significant", note="Misread the item; clarified.")
        note = _note(cara, patient, plain)
        assert note_services.missing_for_signature(note) == []


def test_an_acknowledged_alert_still_needs_the_next_note(practice_a, cara, patient, plain, alert):
    with practice_scope(practice_a):
        risk_alert_acknowledge(alert=alert, by=cara, action="contacted")
        note = _note(cara, patient, plain)
        missing = note_services.missing_for_signature(note)
        assert len(missing) == 1 and "(risk alert from PHQ-9" in missing[0]


def test_another_patients_alert_does_not_touch_this_note(practice_a, cara, plain, alert):
    with scopes_disabled():
        someone = cf.PatientFactory(practice=practice_a, primary_clinician=cara)
    with practice_scope(practice_a):
        assert note_services.missing_for_signature(_note(cara, someone, plain)) == []


def test_the_editor_shows_the_risk_section_with_a_notice(practice_a, cara, patient, plain, alert, client, login):
    with practice_scope(practice_a):
        note = _note(cara, patient, plain)
        form = NoteEditorForm(template=plain, note=note)
        assert form.shows_risk and "risk_protective_factors" in form.fields
    login(cara)
    url = reverse("note_edit", kwargs={"practice_slug": practice_a.slug, "note_id": note.public_id})
    body = client.get(url).content.decode()
    assert "data-risk-alert-notice" in body
    assert 'name="risk_protective_factors"' in body
    assert "Risk assessment and safety plan (open risk alert from PHQ-9" in body
    # posting the editor saves the risk fields, then signing works
    sign_url = reverse("note_sign", kwargs={"practice_slug": practice_a.slug, "note_id": note.public_id})
    data = {
        "session_on": timezone.localdate().isoformat(),
        "modality": "in_person",
        "section_subjective": "S",
        "section_objective": "O",
        "section_assessment": "A",
        "section_plan_next": "P",
        "risk_ideation": "passive",
        "risk_level": "low",
        "risk_plan": "",
        "risk_intent": "",
        "risk_means": "",
        "risk_protective_factors": "Safety plan reviewed.",
        "credential": DEFAULT_PASSWORD,
    }
    response = client.post(sign_url, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    with scopes_disabled():
        alert.refresh_from_db()
        assert alert.addressed_by_note.public_id == note.public_id


def test_a_template_without_risk_section_and_no_alert_is_unchanged(practice_a, cara, patient, plain):
    with practice_scope(practice_a):
        note = _note(cara, patient, plain)
        form = NoteEditorForm(template=plain, note=note)
        assert not form.shows_risk and "risk_level" not in form.fields
        assert note_services.missing_for_signature(note) == []


# --- My work and the dashboard -------------------------------------------------------------------


def test_my_work_lists_the_alert_first(practice_a, cara, patient, alert, client, login):
    with practice_scope(practice_a):
        work = outstanding_work(cara)
        assert next(iter(work)) == "risk_alerts"
        assert [a.pk for a in work["risk_alerts"]] == [alert.pk]
        assert outstanding_counts(cara)["risk_alerts"] == 1
    login(cara)
    body = client.get(reverse("my_work", kwargs={"practice_slug": practice_a.slug})).content.decode()
    assert body.index('id="risk-alerts"') < body.index('id="drafts"')
    assert str(alert.public_id) in body


def test_dashboard_card_for_members_with_the_perm(practice_a, cara, alert, make_member, client, login):
    login(cara)
    body = client.get(reverse("practice_dashboard", kwargs={"practice_slug": practice_a.slug})).content.decode()
    assert "data-risk-card" in body
    assert "data-risk-open>1<" in body
    front = make_member(practice_a, Role.FRONT_DESK, email="fran@riverside.test")
    login(front)
    body = client.get(reverse("practice_dashboard", kwargs={"practice_slug": practice_a.slug})).content.decode()
    assert "data-risk-card" not in body
    assert "Risk alerts" in body  # the placeholder


# --- Earlier appointment -------------------------------------------------------------------------


def test_the_alert_page_proposes_earlier_slots_before_the_next_appointment(
    practice_a, cara, patient, alert, client, login
):
    with scopes_disabled():
        location = LocationFactory(practice=practice_a)
        for weekday in range(7):
            sf.AvailabilityRuleFactory(practice=practice_a, clinician=cara, location=location, weekday=weekday)
        appt_type = sf.AppointmentTypeFactory(practice=practice_a)
        nxt = sf.next_weekday_at(15, days_ahead=9)
        sf.appointment_with_patient(
            practice_a,
            clinician=cara,
            patient=patient,
            appointment_type=appt_type,
            starts_at=nxt,
            ends_at=nxt + timedelta(minutes=45),
        )
    login(cara)
    url = reverse("risk_alert_detail", kwargs={"practice_slug": practice_a.slug, "alert_id": alert.public_id})
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert "Next booked:" in body
    new_url = reverse("appointment_new", kwargs={"practice_slug": practice_a.slug})
    links = [chunk.split('"')[0].replace("&amp;", "&") for chunk in body.split(f'href="{new_url}?')[1:]]
    assert 1 <= len(links) <= 6
    params = parse_qs(links[0])
    assert params["patient"] == [str(patient.public_id)]
    assert params["clinician"] == [str(cara.public_id)]
    assert params["location"] == [str(location.public_id)]
    assert "T" in params["start"][0]
    # the booking page opens pre-filled with the patient
    booking = client.get(f"{new_url}?{links[0]}")
    assert booking.status_code == 200
    assert "Nora Vance" in booking.content.decode()
    # and a link to start the next progress note
    assert reverse("note_create", kwargs={"practice_slug": practice_a.slug, "patient_id": patient.public_id}) in body
    assert urlparse(url).path in url
