"""Charge capture (helper B2): signed notes, group sessions, 96127 from assessments, late-cancel
and no-show fees, the catch-up, and idempotency."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from assessments import services as assessment_services
from assessments.tests import factories as af
from billing import services_charges as sc
from billing.models import Charge, Payer
from billing.tests import factories as bf
from billing.tests.claims_world import add_patient, make_world, signed_note
from clinical.models import ProgressNote
from clinical.services import notes as note_services
from clinical.tests import factories as cf
from conftest import DEFAULT_PASSWORD
from practice.scoping import practice_scope
from scheduling import services as scheduling_services
from scheduling.models import Appointment, SchedulingSettings
from scheduling.tests import factories as sf

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(practice_a):
    with practice_scope(practice_a):
        yield make_world(practice_a)


def test_signed_note_becomes_one_insurance_charge_with_everything_from_the_chart(world):
    patient = world.patients[0]
    note = signed_note(patient, world.clinician, service_code="90837", start_time=time(9, 0), end_time=time(9, 55))
    result = sc.charges_for_note(note_id=note.pk)
    assert len(result.created) == 1 and not result.problems
    charge = result.created[0]
    assert charge.kind == Charge.Kind.INSURANCE and charge.status == Charge.Status.UNBILLED
    assert charge.cpt == "90837" and charge.units == 1 and charge.minutes == 55
    assert charge.place_of_service == "11" and charge.modifiers == []
    assert charge.diagnosis_codes == ["F33.1", "F41.1"]  # rank order
    assert charge.diagnosis_pointers == [1, 2]
    assert charge.rendering == world.clinician and charge.supervising is None
    assert charge.coverage == world.coverages[0]
    assert charge.fee_cents == 20000
    assert charge.idempotency_key == f"note:{note.pk}:90837"
    assert charge.service_date == note.session_on


def test_capturing_twice_creates_nothing_new(world):
    note = signed_note(world.patients[0], world.clinician)
    sc.charges_for_note(note_id=note.pk)
    again = sc.charges_for_note(note_id=note.pk)
    assert again.created == [] and again.existing == 1
    assert Charge.objects.count() == 1


def test_psychotherapy_code_is_kept_even_when_minutes_disagree(world):
    # The scrubber flags the mismatch (billing.md P1); capture never rewrites the clinician's code.
    note = signed_note(world.patients[0], world.clinician, service_code="90837", end_time=time(10, 45))
    charge = sc.charges_for_note(note_id=note.pk).created[0]
    assert charge.cpt == "90837" and charge.minutes == 45


def test_draft_and_awaiting_cosign_notes_are_not_charged(world):
    draft = cf.ProgressNoteFactory(patient=world.patients[0], author=world.clinician)
    waiting = signed_note(
        world.patients[0], world.trainee, status=ProgressNote.Status.AWAITING_COSIGN, cosigner=world.supervisor
    )
    assert sc.charges_for_note(note_id=draft.pk).created == []
    assert sc.charges_for_note(note_id=waiting.pk).created == []
    assert not Charge.objects.exists()


def test_note_without_service_code_is_not_charged(world):
    note = signed_note(world.patients[0], world.clinician, service_code="")
    assert sc.charges_for_note(note_id=note.pk).created == []


def test_pre_licensed_author_bills_with_the_supervisor(world):
    note = signed_note(world.patients[0], world.trainee, cosigner=world.supervisor, cosigned_at=timezone.now())
    charge = sc.charges_for_note(note_id=note.pk).created[0]
    assert charge.rendering == world.trainee and charge.supervising == world.supervisor


@pytest.mark.parametrize(
    ("convention", "note_pos", "pos", "modifiers"),
    [
        (Payer.TelehealthConvention.CMS, "10", "10", ["95"]),
        (Payer.TelehealthConvention.CMS, "02", "02", ["95"]),
        (Payer.TelehealthConvention.OFFICE_95, "10", "11", ["95"]),
        (Payer.TelehealthConvention.GT, "10", "02", ["GT"]),
    ],
)
def test_telehealth_pos_and_modifier_follow_the_payer(world, convention, note_pos, pos, modifiers):
    world.payer.telehealth = convention
    world.payer.save()
    note = signed_note(world.patients[0], world.clinician, modality="telehealth", place_of_service=note_pos)
    charge = sc.charges_for_note(note_id=note.pk).created[0]
    assert (charge.place_of_service, charge.modifiers) == (pos, modifiers)


def test_fee_prefers_the_modifier_entry(world):
    from billing.tests.claims_world import fee_schedule

    world.payer.fee_schedules.update(is_active=False)
    fee_schedule(world.practice, payer=world.payer, fees={"90834": 15000}, modifier_fees={("90834", "95"): 14000})
    note = signed_note(world.patients[0], world.clinician, modality="telehealth", place_of_service="10")
    assert sc.charges_for_note(note_id=note.pk).created[0].fee_cents == 14000


def test_patient_without_coverage_gets_a_patient_charge(world):
    patient = add_patient(world, coverage=False)
    charge = sc.charges_for_note(note_id=signed_note(patient, world.clinician).pk).created[0]
    assert charge.kind == Charge.Kind.PATIENT and charge.status == Charge.Status.PATIENT
    assert charge.coverage is None and charge.fee_cents == 15000  # self-pay schedule


def test_self_pay_setting_bills_the_patient_even_with_coverage(world):
    from billing.models import PatientBillingSettings

    patient = world.patients[0]
    PatientBillingSettings.objects.create(practice=world.practice, patient=patient, self_pay=True)
    charge = sc.charges_for_note(note_id=signed_note(patient, world.clinician).pk).created[0]
    assert charge.kind == Charge.Kind.PATIENT and charge.coverage is None


def test_expired_coverage_is_not_used(world):
    coverage = world.coverages[0]
    coverage.ends_on = timezone.localdate() - timedelta(days=10)
    coverage.save()
    charge = sc.charges_for_note(note_id=signed_note(world.patients[0], world.clinician).pk).created[0]
    assert charge.kind == Charge.Kind.PATIENT


def test_missing_fee_is_reported_not_guessed(world):
    note = signed_note(world.patients[0], world.clinician, service_code="90846")
    result = sc.charges_for_note(note_id=note.pk)
    assert result.created == [] and "90846" in result.problems[0]


def test_prior_authorization_is_linked(world):
    auth = bf.PriorAuthorizationFactory(
        practice=world.practice, coverage=world.coverages[0], patient=world.patients[0], cpt_codes=["90834"]
    )
    charge = sc.charges_for_note(note_id=signed_note(world.patients[0], world.clinician).pk).created[0]
    assert charge.prior_authorization == auth


def test_resolved_diagnoses_and_more_than_twelve_are_left_out(world):
    from billing.tests.claims_world import diagnosis

    patient = add_patient(world)
    diagnosis(patient, "F43.10", rank=3, resolved_on=timezone.localdate() - timedelta(days=30))
    codes = ["F40.10", "F42.2", "F50.00", "F51.01", "F60.3", "F63.81", "F64.0", "F90.0", "F91.3", "F93.0", "F94.0"]
    for rank, code in enumerate(codes, start=4):
        diagnosis(patient, code, rank=rank)
    charge = sc.charges_for_note(note_id=signed_note(patient, world.clinician).pk).created[0]
    assert len(charge.diagnosis_codes) == 12 and "F43.10" not in charge.diagnosis_codes
    assert charge.diagnosis_codes[:2] == ["F33.1", "F41.1"]
    assert charge.diagnosis_pointers == [1, 2, 3, 4]


# --- appointments -----------------------------------------------------------------------------


def _appointment(world, *, status="completed", group=False, n=1, attendee_statuses=None):
    kind = sf.AppointmentTypeFactory(
        practice=world.practice,
        is_group=group,
        max_attendees=8 if group else 1,
        default_service_code="90853" if group else "90834",
    )
    start = timezone.now() - timedelta(days=2)
    appointment = sf.AppointmentFactory(
        practice=world.practice,
        clinician=world.clinician,
        appointment_type=kind,
        starts_at=start,
        ends_at=start + timedelta(minutes=60),
        status=status,
    )
    attendees = []
    for i in range(n):
        patient = world.patients[i] if i < len(world.patients) else add_patient(world)
        statuses = attendee_statuses or ["attended"] * n
        attendees.append(
            sf.AttendeeFactory(practice=world.practice, appointment=appointment, patient=patient, status=statuses[i])
        )
    return appointment, attendees


def _link(attendee, note):
    attendee.progress_note = note
    attendee.save()


def test_note_of_a_no_show_is_not_charged(world):
    _, (attendee,) = _appointment(world, status="no_show", attendee_statuses=["no_show"])
    note = signed_note(attendee.patient, world.clinician)
    _link(attendee, note)
    result = sc.charges_for_note(note_id=note.pk)
    assert result.created == [] and result.problems


def test_note_of_an_attended_appointment_carries_the_appointment(world):
    appointment, (attendee,) = _appointment(world)
    note = signed_note(attendee.patient, world.clinician)
    _link(attendee, note)
    charge = sc.charges_for_note(note_id=note.pk).created[0]
    assert charge.appointment == appointment


def test_group_note_charges_each_attending_member_once(world):
    _, attendees = _appointment(
        world, group=True, n=4, attendee_statuses=["attended", "attended", "no_show", "attended"]
    )
    own = signed_note(attendees[3].patient, world.clinician, service_code="90853", kind="group")
    _link(attendees[3], own)
    note = signed_note(attendees[0].patient, world.clinician, service_code="90853", kind="group")
    _link(attendees[0], note)
    result = sc.charges_for_note(note_id=note.pk)
    charged = {c.patient_id for c in result.created}
    assert charged == {attendees[0].patient_id, attendees[1].patient_id}  # not the no-show, not the one with a note
    assert all(c.cpt == "90853" and c.fee_cents == 6000 for c in result.created)
    other = next(c for c in result.created if c.patient_id == attendees[1].patient_id)
    assert other.idempotency_key == f"note:{note.pk}:90853:{attendees[1].patient_id}"
    assert other.coverage.patient_id == attendees[1].patient_id  # each with their own coverage
    assert sc.charges_for_note(note_id=own.pk).created[0].patient_id == attendees[3].patient_id
    assert sc.charges_for_note(note_id=note.pk).created == []  # idempotent


# --- signing hooks --------------------------------------------------------------------------------


def _ready_note(author, patient):
    template = cf.NoteTemplateFactory(practice=patient.practice, includes_risk_assessment=False)
    note = note_services.note_create(
        author=author,
        patient=patient,
        template=template,
        session_on=timezone.localdate() - timedelta(days=1),
        start_time=time(10, 0),
        end_time=time(10, 45),
        service_code="90834",
    )
    note, _ = note_services.note_update_draft(
        note=note,
        by=author,
        fields={
            "content": {"subjective": "a", "objective": "b", "assessment": "c", "plan_next": "d"},
        },
    )
    return note


def test_signing_a_note_captures_its_charge_on_commit(world, django_capture_on_commit_callbacks):
    patient = world.patients[0]
    note = _ready_note(world.clinician, patient)
    with django_capture_on_commit_callbacks(execute=True):
        note_services.note_sign(note=note, by=world.clinician, credential=DEFAULT_PASSWORD)
    charge = Charge.objects.get(note=note)
    assert charge.cpt == "90834" and charge.minutes == 45


def test_supervisee_note_is_charged_only_after_the_cosign(world, django_capture_on_commit_callbacks):
    patient = world.patients[0]
    patient.primary_clinician = world.trainee
    patient.save()
    note = _ready_note(world.trainee, patient)
    with django_capture_on_commit_callbacks(execute=True):
        note_services.note_sign(note=note, by=world.trainee, credential=DEFAULT_PASSWORD)
    assert not Charge.objects.filter(note=note).exists()
    with django_capture_on_commit_callbacks(execute=True):
        note_services.note_cosign(note=note, by=world.supervisor, credential=DEFAULT_PASSWORD)
    charge = Charge.objects.get(note=note)
    assert charge.rendering == world.trainee and charge.supervising == world.supervisor


# --- 96127 --------------------------------------------------------------------------------------


def test_billable_response_becomes_a_96127_charge_once_per_instrument_per_day(world):
    patient = world.patients[0]
    phq = af.ResponseFactory(practice=world.practice, patient=patient)
    gad = af.ResponseFactory(practice=world.practice, patient=patient, instrument_code="GAD-7")
    repeat = af.ResponseFactory(practice=world.practice, patient=patient)
    for response in (phq, gad, repeat):
        assessment_services.response_billable.send(sender=None, practice_id=world.practice.pk, response_id=response.pk)
    charges = Charge.objects.filter(cpt="96127")
    assert charges.count() == 2  # PHQ-9 and GAD-7; the second PHQ-9 that day is not charged again
    assert {c.fee_cents for c in charges} == {1000}
    assert all(c.kind == Charge.Kind.INSURANCE and c.source == "assessment" for c in charges)
    phq.refresh_from_db()
    repeat.refresh_from_db()
    assert phq.charge_recorded_at is not None and repeat.charge_recorded_at is not None


def test_96127_is_not_charged_when_the_practice_does_not_bill_screenings(world):
    settings = assessment_services.assessment_settings_get(practice_id=world.practice.pk)
    settings.bill_screening_cpt = False
    settings.save()
    response = af.ResponseFactory(practice=world.practice, patient=world.patients[0])
    assert sc.charge_for_response(response_id=response.pk) is None


def test_96127_takes_that_days_session_details(world):
    patient = world.patients[0]
    response = af.ResponseFactory(practice=world.practice, patient=patient)
    day = timezone.localtime(response.completed_at, ZoneInfo(world.practice.timezone)).date()
    note = signed_note(
        patient, world.trainee, session_on=day, cosigner=world.supervisor, modality="telehealth", place_of_service="10"
    )
    sc.charges_for_note(note_id=note.pk)
    charge = sc.charge_for_response(response_id=response.pk)
    assert charge.rendering == world.trainee and charge.supervising == world.supervisor
    assert charge.place_of_service == "10" and charge.modifiers == ["95"]


def _response_for_visit(world, *, days_from_now: int, status: str = "scheduled"):
    patient = world.patients[0]
    start = timezone.now() + timedelta(days=days_from_now)
    appointment = sf.AppointmentFactory(
        practice=world.practice,
        clinician=world.clinician,
        starts_at=start,
        ends_at=start + timedelta(minutes=45),
        status=status,
    )
    administration = af.AdministrationFactory(
        practice=world.practice, patient=patient, instrument_code="PHQ-9", appointment=appointment
    )
    response = af.ResponseFactory(
        practice=world.practice,
        patient=patient,
        administration=administration,
        completed_at=timezone.now() - timedelta(days=3),
    )
    return response, timezone.localtime(start, ZoneInfo(world.practice.timezone)).date()


def test_96127_for_a_questionnaire_sent_before_a_visit_is_billed_on_the_visit_day(world):
    response, visit_day = _response_for_visit(world, days_from_now=-1, status="completed")
    charge = sc.charge_for_response(response_id=response.pk)
    assert charge.service_date == visit_day


def test_96127_waits_for_a_visit_still_to_come(world):
    response, _ = _response_for_visit(world, days_from_now=2)
    assert sc.charge_for_response(response_id=response.pk) is None
    response.refresh_from_db()
    assert response.charge_recorded_at is None and not Charge.objects.filter(cpt="96127").exists()


def test_96127_for_a_missed_visit_is_billed_on_the_day_it_was_completed(world):
    response, visit_day = _response_for_visit(world, days_from_now=-1, status="no_show")
    charge = sc.charge_for_response(response_id=response.pk)
    completed = timezone.localtime(response.completed_at, ZoneInfo(world.practice.timezone)).date()
    assert charge.service_date == completed != visit_day


# --- fees ----------------------------------------------------------------------------------------


def _fees(practice, late=5000, no_show=7500):
    SchedulingSettings.objects.update_or_create(
        practice=practice, defaults={"late_cancel_fee_cents": late, "no_show_fee_cents": no_show}
    )


def test_no_show_with_a_fee_becomes_a_patient_charge(world, django_capture_on_commit_callbacks):
    _fees(world.practice)
    appointment, (attendee,) = _appointment(world, status="confirmed", attendee_statuses=["confirmed"])
    with django_capture_on_commit_callbacks(execute=True):
        scheduling_services.appointment_set_status(appointment=appointment, by=None, status="no_show")
    charge = Charge.objects.get(appointment=appointment)
    assert charge.kind == Charge.Kind.PATIENT and charge.status == Charge.Status.PATIENT
    assert charge.source == "no_show_fee" and charge.fee_cents == 7500 and charge.cpt == ""
    assert charge.patient == attendee.patient
    assert sc.charges_for_appointment_fee(appointment_id=appointment.pk) == []  # idempotent


def test_late_cancel_with_a_fee_becomes_a_patient_charge(world, django_capture_on_commit_callbacks):
    _fees(world.practice)
    appointment, _ = _appointment(world, status="scheduled", attendee_statuses=["expected"])
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=timezone.now() + timedelta(hours=2), ends_at=timezone.now() + timedelta(hours=3)
    )
    appointment.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        scheduling_services.appointment_cancel(appointment=appointment, by=None, reason="sick", late=True)
    charge = Charge.objects.get(appointment=appointment)
    assert charge.source == "late_cancel_fee" and charge.fee_cents == 5000
    assert charge.description == "Late cancellation fee"


def test_no_fee_configured_means_no_charge(world, django_capture_on_commit_callbacks):
    _fees(world.practice, late=0, no_show=0)
    appointment, _ = _appointment(world, status="confirmed", attendee_statuses=["confirmed"])
    with django_capture_on_commit_callbacks(execute=True):
        scheduling_services.appointment_set_status(appointment=appointment, by=None, status="no_show")
    assert not Charge.objects.exists()


# --- catch-up ------------------------------------------------------------------------------------


def test_catch_up_creates_what_the_hooks_missed_and_is_idempotent(world):
    recent = signed_note(world.patients[0], world.clinician, days_ago=3)
    old = signed_note(world.patients[0], world.clinician, days_ago=45)
    response = af.ResponseFactory(practice=world.practice, patient=world.patients[0])
    counts = sc.charges_catch_up(practice_id=world.practice.pk)
    assert counts["notes"] == 1 and counts["charges"] == 1 and counts["responses"] == 1
    assert Charge.objects.filter(note=recent).exists() and not Charge.objects.filter(note=old).exists()
    response.refresh_from_db()
    assert response.charge_recorded_at is not None
    again = sc.charges_catch_up(practice_id=world.practice.pk)
    assert again["charges"] == 0 and again["responses"] == 0
    assert Charge.objects.count() == 2


def test_catch_up_task_fans_out_per_practice_and_touches_only_its_practice(world, practice_b):
    from billing.tasks_charges import charges_catch_up_task

    signed_note(world.patients[0], world.clinician)
    with practice_scope(practice_b):
        other = make_world(practice_b)
        other_note = signed_note(other.patients[0], other.clinician)
    assert charges_catch_up_task() == 2
    with practice_scope(practice_b):
        assert Charge.objects.filter(note=other_note).count() == 1
    assert Charge.objects.count() == 1  # practice A's scope sees only its own
