"""Questionnaire delivery services: protocol validation, assignment scheduling (intake, every Nth
session, every N weeks), appointment sync, dispatch (claim once, token hashed, consent, quiet
hours, portal), expiry, auto-assignment."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from assessments import services_delivery as svc
from assessments.models import Administration, Protocol, ProtocolAssignment
from assessments.services import response_record
from assessments.tests.factories import ProtocolFactory
from clinical.tests.factories import CommunicationConsentFactory, DiagnosisFactory, PatientFactory
from notifications.models import Message
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope
from scheduling.tests.factories import appointment_with_patient

pytestmark = pytest.mark.django_db
A = Administration.Status


@pytest.fixture
def admin_a(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test")


@pytest.fixture
def patient(practice_a, clinician_a):
    with practice_scope(practice_a):
        return PatientFactory(practice=practice_a, primary_clinician=clinician_a)


def _book(practice, patient, clinician, days: int, attendee_status: str = "expected", hour: int = 15):
    starts = datetime.combine((timezone.now() + timedelta(days=days)).date(), time(hour, 0), tzinfo=UTC)
    appointment = appointment_with_patient(
        practice, clinician=clinician, patient=patient, starts_at=starts, ends_at=starts + timedelta(minutes=45)
    )
    if attendee_status != "expected":
        appointment.attendees.update(status=attendee_status)
    return appointment


def _protocol(practice, admin, **kw):
    fields = {
        "name": "Depression follow-up",
        "instrument_codes": ["PHQ-9", "GAD-7"],
        "audience": "all",
        "at_intake": True,
        "every_n_sessions": 2,
        "channel": "email",
        "auto_assign": False,
    }
    fields.update(kw)
    with practice_scope(practice):
        return svc.protocol_create(by=admin, **fields)


# --- protocols ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"instrument_codes": ["PHQ-10"]}, "instrument_codes"),
        ({"instrument_codes": []}, "instrument_codes"),
        ({"at_intake": False, "every_n_sessions": None, "every_n_weeks": None}, "at_intake"),
        ({"audience": "diagnosis", "diagnosis_prefixes": ["depression"]}, "diagnosis_prefixes"),
        ({"audience": "diagnosis", "diagnosis_prefixes": []}, "diagnosis_prefixes"),
        ({"audience": "clinicians", "clinicians": []}, "clinicians"),
        ({"name": "  "}, "name"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_protocol_validation_names_the_field(practice_a, admin_a, fields, field):
    with pytest.raises(DomainError) as exc:
        _protocol(practice_a, admin_a, **fields)
    assert exc.value.field == field


def test_protocol_accepts_prefixes_and_rejects_other_practice_clinicians(practice_a, practice_b, admin_a, clinician_b):
    protocol = _protocol(practice_a, admin_a, audience="diagnosis", diagnosis_prefixes=["f32", "F41.1"])
    assert protocol.diagnosis_prefixes == ["F32", "F41.1"]
    with pytest.raises(DomainError) as exc:
        _protocol(practice_a, admin_a, audience="clinicians", clinicians=[clinician_b])
    assert exc.value.field == "clinicians"


def test_protocol_create_needs_the_permission(practice_a, clinician_a):
    with pytest.raises(DomainError) as exc:
        _protocol(practice_a, clinician_a)
    assert exc.value.code == "forbidden"


def test_protocol_described_in_words(practice_a, admin_a):
    from assessments.selectors_delivery import protocol_describe

    protocol = _protocol(practice_a, admin_a, audience="diagnosis", diagnosis_prefixes=["F32", "F33"])
    assert protocol_describe(protocol) == (
        "PHQ-9 + GAD-7 at intake and every 2nd session, by email link; patients with F32*, F33*"
    )


# --- assignment and scheduling ------------------------------------------------------------------


def test_assign_schedules_intake_and_every_second_session(practice_a, admin_a, clinician_a, patient):
    protocol = _protocol(practice_a, admin_a, instrument_codes=["PHQ-9"])
    with practice_scope(practice_a):
        appts = [_book(practice_a, patient, clinician_a, days) for days in (3, 10, 17, 24)]
        assignment = svc.protocol_assign(protocol=protocol, patient=patient, by=clinician_a)
        rows = {r.appointment_id: r for r in Administration.objects.filter(assignment=assignment)}
        # session 1 = intake, sessions 2 and 4 = every 2nd session; session 3 nothing
        assert set(rows) == {appts[0].pk, appts[1].pk, appts[3].pk}
        assert rows[appts[0].pk].reason == "intake"
        assert rows[appts[1].pk].reason == "session 2"
        first = rows[appts[0].pk]
        assert first.status == A.SCHEDULED
        assert first.due_at == appts[0].starts_at - timedelta(hours=48)
        # idempotent: assigning again returns the same assignment and creates nothing
        again = svc.protocol_assign(protocol=protocol, patient=patient, by=clinician_a)
        assert again.pk == assignment.pk
        assert Administration.objects.filter(assignment=assignment).count() == 3
        assert ProtocolAssignment.objects.filter(patient=patient).count() == 1


def test_no_intake_after_an_attended_session_and_due_never_in_the_past(practice_a, admin_a, clinician_a, patient):
    protocol = _protocol(practice_a, admin_a, instrument_codes=["PHQ-9"], every_n_sessions=None, every_n_weeks=None)
    with practice_scope(practice_a):
        _book(practice_a, patient, clinician_a, -7, attendee_status="attended")
        _book(practice_a, patient, clinician_a, 1)
        assignment = svc.protocol_assign(protocol=protocol, patient=patient, by=clinician_a)
        assert not Administration.objects.filter(assignment=assignment).exists()

        other = PatientFactory(practice=practice_a, primary_clinician=clinician_a)
        # tomorrow (an hour later: PostgreSQL refuses a clinician's overlapping appointments), so
        # 48 hours before it is in the past
        soon = _book(practice_a, other, clinician_a, 1, hour=17)
        before = timezone.now()
        svc.protocol_assign(protocol=protocol, patient=other, by=clinician_a)
        row = Administration.objects.get(patient=other)
        assert row.appointment_id == soon.pk
        assert before <= row.due_at <= timezone.now()


def test_every_n_weeks_without_appointments(practice_a, admin_a, clinician_a, patient):
    protocol = _protocol(
        practice_a, admin_a, instrument_codes=["GAD-7"], at_intake=False, every_n_sessions=None, every_n_weeks=4
    )
    with practice_scope(practice_a):
        assignment = svc.protocol_assign(protocol=protocol, patient=patient, by=clinician_a)
        row = Administration.objects.get(assignment=assignment)
        assert row.appointment_id is None and row.status == A.SCHEDULED
        # a response two weeks later than the start: the next one is due 4 weeks after it
        response_record(patient=patient, instrument_code="GAD-7", answers=[1] * 7, mode="clinician", by=clinician_a)
        row.status = A.COMPLETED
        row.save()
        svc.assignment_schedule(assignment=assignment)
        nxt = Administration.objects.get(assignment=assignment, status=A.SCHEDULED)
        assert nxt.due_at > timezone.now() + timedelta(weeks=4) - timedelta(minutes=1)


def test_end_assignment_cancels_unsent_and_sent_but_not_completed(practice_a, admin_a, clinician_a, patient):
    protocol = _protocol(practice_a, admin_a, instrument_codes=["PHQ-9"], every_n_sessions=1)
    with practice_scope(practice_a):
        for days in (3, 10, 17):
            _book(practice_a, patient, clinician_a, days)
        assignment = svc.protocol_assign(protocol=protocol, patient=patient, by=clinician_a)
        rows = list(Administration.objects.filter(assignment=assignment).order_by("due_at"))
        Administration.objects.filter(pk=rows[0].pk).update(status=A.COMPLETED)
        Administration.objects.filter(pk=rows[1].pk).update(status=A.SENT)
        assert svc.assignment_end(assignment=assignment, by=clinician_a) == 2
        statuses = list(
            Administration.objects.filter(assignment=assignment).order_by("due_at").values_list("status", flat=True)
        )
        assert statuses == [A.COMPLETED, A.CANCELLED, A.CANCELLED]
        assert ProtocolAssignment.objects.get(pk=assignment.pk).status == "ended"


def test_sync_moves_and_cancels_with_the_appointment(practice_a, admin_a, clinician_a, patient):
    protocol = _protocol(practice_a, admin_a, instrument_codes=["PHQ-9"], every_n_sessions=1, at_intake=False)
    with practice_scope(practice_a):
        first = _book(practice_a, patient, clinician_a, 5)
        second = _book(practice_a, patient, clinician_a, 12)
        svc.protocol_assign(protocol=protocol, patient=patient, by=clinician_a)
        # moved: due time follows
        first.starts_at += timedelta(days=1)
        first.ends_at += timedelta(days=1)
        first.save()
        svc.administrations_sync_for_appointment(appointment_id=first.pk)
        row = Administration.objects.get(appointment=first)
        assert row.due_at == first.starts_at - timedelta(hours=48)
        # cancelled: its unsent row is cancelled, the other stays
        first.status = "cancelled"
        first.save()
        svc.administrations_sync_for_appointment(appointment_id=first.pk)
        assert Administration.objects.get(appointment=first).status == A.CANCELLED
        assert Administration.objects.get(appointment=second).status == A.SCHEDULED
        # a second sync changes nothing
        assert svc.administrations_sync_for_appointment(appointment_id=first.pk) == 0


def test_booking_through_scheduling_schedules_questionnaires(practice_a, admin_a, clinician_a, patient):
    """The scheduling `_after_commit` hook calls administrations_sync_for_appointment."""
    from django.db import transaction

    from scheduling.services import _after_commit

    protocol = _protocol(practice_a, admin_a, instrument_codes=["PHQ-9"])
    with practice_scope(practice_a):
        svc.protocol_assign(protocol=protocol, patient=patient, by=clinician_a)
        assert not Administration.objects.filter(patient=patient).exists()
        appointment = _book(practice_a, patient, clinician_a, 6)
    with transaction.atomic():
        _after_commit([appointment.pk], practice_id=practice_a.pk)
    # pytest-django runs the test in a transaction: run the on-commit callbacks by hand
    from django.db import connection

    for _, callback, _ in list(connection.run_on_commit):
        callback()
    with practice_scope(practice_a):
        assert Administration.objects.filter(patient=patient, appointment=appointment).count() == 1


def _code(code: str):
    from clinical.models import DiagnosisCode

    return DiagnosisCode.objects.filter(code=code).first() or DiagnosisCode.objects.create(
        code=code, description=f"Test {code}"
    )


def test_auto_assign_matches_diagnosis_prefix_and_is_idempotent(practice_a, admin_a, clinician_a):
    with practice_scope(practice_a):
        depressed = PatientFactory(practice=practice_a, primary_clinician=clinician_a)
        DiagnosisFactory(patient=depressed, code=_code("F32.1"))
        other = PatientFactory(practice=practice_a, primary_clinician=clinician_a)
        DiagnosisFactory(patient=other, code=_code("F43.10"))
    _protocol(practice_a, admin_a, audience="diagnosis", diagnosis_prefixes=["F32", "F33"], auto_assign=True)
    with practice_scope(practice_a):
        assert svc.protocols_auto_assign(practice_id=practice_a.pk) == 1
        assert svc.protocols_auto_assign(practice_id=practice_a.pk) == 0
        assert list(ProtocolAssignment.objects.values_list("patient_id", flat=True)) == [depressed.pk]


def test_auto_assign_task_fans_out_per_practice(practice_a, practice_b, admin_a, clinician_a, patient):
    from assessments.tasks_delivery import protocols_auto_assign_task

    _protocol(practice_a, admin_a, auto_assign=True)
    with practice_scope(practice_b):
        ProtocolFactory(practice=practice_b, is_active=False)
    assert protocols_auto_assign_task.delay().get() == 1  # only practice A has an active protocol
    with practice_scope(practice_a):
        assert ProtocolAssignment.objects.filter(patient=patient).exists()


# --- dispatch ----------------------------------------------------------------------------------


def _due(practice, patient, channel="email", **kw):
    with practice_scope(practice):
        return Administration.objects.create(
            practice=practice,
            patient=patient,
            instrument_code="PHQ-9",
            channel=channel,
            status=A.SCHEDULED,
            due_at=timezone.now() - timedelta(minutes=1),
            **kw,
        )


def test_dispatch_sends_once_with_a_hashed_token(practice_a, patient):
    with practice_scope(practice_a):
        CommunicationConsentFactory(patient=patient, channel="email", is_granted=True)
    row = _due(practice_a, patient)
    with practice_scope(practice_a):
        assert svc.administrations_dispatch_due() == 1
        assert svc.administrations_dispatch_due() == 0
        row.refresh_from_db()
        assert row.status == A.SENT and row.sent_at and row.expires_at
        message = Message.objects.get(idempotency_key=f"questionnaire:{row.pk}")
        assert row.message_id == message.pk and message.status != Message.Status.SUPPRESSED
        token = message.body.split("/q/")[1].split("/")[0]
        assert len(token) >= 43
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str(Administration.objects.filter(pk=row.pk).values().first())
        # a redelivered send does nothing
        assert svc.administration_send(administration_id=row.pk) == ""
        assert Message.objects.filter(patient=patient).count() == 1


def test_dispatch_without_consent_is_sent_with_a_suppressed_message(practice_a, patient):
    row = _due(practice_a, patient)
    with practice_scope(practice_a):
        svc.administrations_dispatch_due()
        row.refresh_from_db()
        assert row.status == A.SENT
        assert row.message.status == Message.Status.SUPPRESSED
        from assessments.selectors_delivery import administrations_for_patient

        listed = administrations_for_patient(patient)
        assert listed[0].message_status.startswith("Not sent")
        assert listed[0].message_note == "no consent for this channel"


def test_sms_in_quiet_hours_waits_for_their_end(practice_a, patient):
    row = _due(practice_a, patient, channel="sms")
    practice_a.timezone = "UTC"
    practice_a.save()
    night = datetime.combine(timezone.now().date(), time(23, 30), tzinfo=UTC)
    with practice_scope(practice_a):
        Administration.objects.filter(pk=row.pk).update(due_at=night - timedelta(minutes=5))
        svc.administrations_dispatch_due(now=night)
        row.refresh_from_db()
        assert row.status == A.SCHEDULED and row.claimed_at is None and row.message_id is None
        assert row.due_at == datetime.combine(night.date() + timedelta(days=1), time(8, 0), tzinfo=UTC)


def test_portal_channel_is_sent_without_a_message(practice_a, patient):
    row = _due(practice_a, patient, channel="portal")
    with practice_scope(practice_a):
        svc.administrations_dispatch_due()
        row.refresh_from_db()
        assert row.status == A.SENT and row.message_id is None and row.token_hash is None


def test_a_stale_claim_is_taken_again_but_a_fresh_one_is_not(practice_a, patient):
    row = _due(practice_a, patient, channel="portal")
    with practice_scope(practice_a):
        Administration.objects.filter(pk=row.pk).update(claimed_at=timezone.now())
        assert svc.administrations_dispatch_due() == 0
        Administration.objects.filter(pk=row.pk).update(claimed_at=timezone.now() - timedelta(minutes=11))
        assert svc.administrations_dispatch_due() == 1


def test_send_cancels_when_the_appointment_is_gone(practice_a, clinician_a, patient):
    with practice_scope(practice_a):
        appointment = _book(practice_a, patient, clinician_a, 1)
        appointment.status = "cancelled"
        appointment.save()
    row = _due(practice_a, patient, appointment=appointment)
    with practice_scope(practice_a):
        svc.administrations_dispatch_due()
        row.refresh_from_db()
        assert row.status == A.CANCELLED


def test_expire_and_the_beat_tasks(practice_a, patient):
    from assessments.tasks_delivery import administrations_dispatch_due_task, administrations_expire_task

    due = _due(practice_a, patient, channel="portal")
    assert administrations_dispatch_due_task.delay().get() == 1
    with practice_scope(practice_a):
        due.refresh_from_db()
        assert due.status == A.SENT
        Administration.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert administrations_expire_task.delay().get() == 1
    with practice_scope(practice_a):
        due.refresh_from_db()
        assert due.status == A.EXPIRED


def test_request_now_is_dispatched_on_commit(practice_a, clinician_a, patient, django_capture_on_commit_callbacks):
    with practice_scope(practice_a):
        CommunicationConsentFactory(patient=patient, channel="sms", is_granted=True)
        with django_capture_on_commit_callbacks(execute=True):
            row = svc.administration_request(patient=patient, instrument_code="PHQ-9", channel="email", by=clinician_a)
        row.refresh_from_db()
        assert row.status == A.SENT and row.requested_by_id == clinician_a.pk and row.reason == "requested"
        with pytest.raises(DomainError):
            svc.administration_request(patient=patient, instrument_code="NOPE", channel="email", by=clinician_a)


def test_protocol_deactivate_ends_assignments(practice_a, admin_a, clinician_a, patient):
    protocol = _protocol(practice_a, admin_a, instrument_codes=["PHQ-9"])
    with practice_scope(practice_a):
        _book(practice_a, patient, clinician_a, 5)
        svc.protocol_assign(protocol=protocol, patient=patient, by=clinician_a)
        assert svc.protocol_deactivate(protocol=protocol, by=admin_a) == 1
        assert not Protocol.objects.get(pk=protocol.pk).is_active
        assert set(Administration.objects.filter(patient=patient).values_list("status", flat=True)) == {A.CANCELLED}
        with pytest.raises(DomainError):
            svc.protocol_assign(protocol=Protocol.objects.get(pk=protocol.pk), patient=patient, by=clinician_a)
