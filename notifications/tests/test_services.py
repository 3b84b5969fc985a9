"""Notifications services: consent, idempotency, template variables, delivery, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django_scopes import scopes_disabled

from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from notifications import services
from notifications.backends import TransientSendError
from notifications.models import Channel, Message, MessageTemplate, Reminder, ReminderRule
from notifications.tests.factories import NotificationSettingsFactory
from practice.errors import DomainError
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory
from scheduling.models import Appointment
from scheduling.tests.factories import AppointmentFactory, AttendeeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _backends(settings):
    settings.TEND_SMS_BACKEND = "outbox"
    settings.TEND_EMAIL_BACKEND_KIND = "django"


def _patient(practice, *, sms=True, email=True, **kw):
    patient = PatientFactory(practice=practice, **kw)
    if sms is not None:
        CommunicationConsentFactory(patient=patient, channel="sms", is_granted=sms)
    if email is not None:
        CommunicationConsentFactory(patient=patient, channel="email", is_granted=email)
    return patient


def _send(practice, patient, *, channel=Channel.SMS, key="reminder", context=None, idem="k1", **kw):
    return services.message_send(
        practice=practice,
        patient=patient,
        channel=channel,
        template_key=key,
        context=context or {"date": "Dec 1, 2026", "time": "3:00 PM", "weekday": "Tuesday", "timezone": "EST"},
        idempotency_key=idem,
        **kw,
    )


# --- message_send ---------------------------------------------------------------------------


def test_message_is_recorded_and_delivered_once_on_commit(practice_a, practice_b, django_capture_on_commit_callbacks):
    with practice_scope(practice_a):
        patient = _patient(practice_a)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            message = _send(practice_a, patient)
        assert len(callbacks) == 1
        message.refresh_from_db()
        assert message.status == Message.Status.SENT
        assert message.provider_id.startswith("outbox-")
        assert message.to_address == "+15035550142"
        assert "Tuesday Dec 1, 2026 at 3:00 PM" in message.body
        assert message.attempts == 1
    with practice_scope(practice_b):
        assert not Message.objects.exists()


def test_same_idempotency_key_returns_the_first_row_and_sends_nothing(practice_a, django_capture_on_commit_callbacks):
    with practice_scope(practice_a):
        patient = _patient(practice_a)
        with django_capture_on_commit_callbacks(execute=True):
            first = _send(practice_a, patient, channel=Channel.EMAIL)
        assert len(mail.outbox) == 1
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            again = _send(practice_a, patient, channel=Channel.EMAIL)
        assert again.pk == first.pk
        assert callbacks == []
        assert len(mail.outbox) == 1
        assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "consents",
    [
        [],  # no row = no consent
        [False],
        [True, False],  # the newest row decides
    ],
)
def test_without_consent_the_message_is_suppressed_and_not_sent(
    practice_a, consents, django_capture_on_commit_callbacks
):
    with practice_scope(practice_a):
        patient = _patient(practice_a, sms=None, email=None)
        for i, granted in enumerate(consents):
            CommunicationConsentFactory(
                patient=patient,
                channel="email",
                is_granted=granted,
                recorded_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=i),
            )
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            message = _send(practice_a, patient, channel=Channel.EMAIL)
        assert message.status == Message.Status.SUPPRESSED
        assert message.last_error == "no consent for this channel"
        assert callbacks == []
        assert mail.outbox == []


def test_consent_granted_again_after_opt_out_sends(practice_a, django_capture_on_commit_callbacks):
    with practice_scope(practice_a):
        patient = _patient(practice_a, sms=None, email=None)
        CommunicationConsentFactory(
            patient=patient, channel="email", is_granted=False, recorded_at=datetime(2026, 1, 1, tzinfo=UTC)
        )
        CommunicationConsentFactory(
            patient=patient, channel="email", is_granted=True, recorded_at=datetime(2026, 2, 1, tzinfo=UTC)
        )
        with django_capture_on_commit_callbacks(execute=True):
            _send(practice_a, patient, channel=Channel.EMAIL)
        assert len(mail.outbox) == 1


def test_only_allowed_variables_reach_the_body(practice_a, django_capture_on_commit_callbacks):
    with practice_scope(practice_a):
        patient = _patient(practice_a)
        services.notifications_install_defaults(practice=practice_a)
        MessageTemplate.objects.filter(key="generic", channel="sms").update(
            body="Hi {{ patient_first_name }} {{ diagnosis }} {{ date }} {{ practice_name }}"
        )
        message = _send(practice_a, patient, key="generic", context={"diagnosis": "F32.1", "date": "Dec 1"})
        assert "F32.1" not in message.body
        assert "Dec 1" not in message.body  # date is not a variable of a generic message
        assert message.body.startswith(f"Hi {patient.legal_first_name}")


def test_template_check_refuses_variables_not_allowed_for_the_key():
    services.template_check(key="reminder", subject="", body="{{ date }} {{ clinician }}")
    with pytest.raises(DomainError, match="diagnosis"):
        services.template_check(key="reminder", subject="", body="{{ date }} {{ diagnosis }}")
    with pytest.raises(DomainError, match="link"):
        services.template_check(key="waitlist_taken", subject="", body="{{ link }}")
    with pytest.raises(DomainError, match="tags"):
        services.template_check(key="reminder", subject="", body="{% load x %}{{ date }}")


def test_clinician_and_location_hidden_when_the_practice_says_so(practice_a):
    with practice_scope(practice_a):
        patient = _patient(practice_a)
        NotificationSettingsFactory(practice=practice_a, include_clinician_name=False, include_location=False)
        message = _send(
            practice_a,
            patient,
            channel=Channel.EMAIL,
            context={"date": "Dec 1", "clinician": "Dr. Who", "location": "Main Office"},
        )
        assert "Dr. Who" not in message.body
        assert "Main Office" not in message.body
        assert "With:" not in message.body  # the line whose variable rendered empty is dropped


def test_message_for_another_practices_patient_is_refused(practice_a, practice_b):
    with scopes_disabled():
        other = _patient(practice_b)
    with practice_scope(practice_a), pytest.raises(DomainError):
        _send(practice_a, other)


# --- delivery --------------------------------------------------------------------------------


class _Flaky:
    name = "flaky"

    def __init__(self, failures):
        self.failures = failures
        self.calls = 0

    def send(self, message):
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientSendError("503")
        return "SMok"


def test_transient_errors_retry_then_send(practice_a, monkeypatch):
    backend = _Flaky(failures=2)
    monkeypatch.setattr(services, "backend_for", lambda channel: backend)
    with practice_scope(practice_a):
        patient = _patient(practice_a)
        message = _send(practice_a, patient)
        for _ in range(2):  # what the task's autoretry does, with backoff
            with pytest.raises(TransientSendError):
                services.message_deliver(message_id=message.pk)
            message.refresh_from_db()
            assert (message.status, message.last_error) == ("queued", "503")
        assert services.message_deliver(message_id=message.pk) == "sent"
        message.refresh_from_db()
        assert (message.status, message.attempts, message.provider_id) == ("sent", 3, "SMok")


def test_failed_after_max_attempts(practice_a, monkeypatch, settings):
    settings.TEND_MESSAGE_MAX_ATTEMPTS = 3
    backend = _Flaky(failures=99)
    monkeypatch.setattr(services, "backend_for", lambda channel: backend)
    with practice_scope(practice_a):
        patient = _patient(practice_a)
        message = _send(practice_a, patient)
        for _ in range(2):
            with pytest.raises(TransientSendError):
                services.message_deliver(message_id=message.pk)
        assert services.message_deliver(message_id=message.pk) == "failed"
        assert services.message_deliver(message_id=message.pk) == ""
        message.refresh_from_db()
        assert (message.status, message.attempts, message.last_error) == ("failed", 3, "503")
        assert backend.calls == 3


def test_deliver_claims_the_row_once(practice_a):
    with practice_scope(practice_a):
        patient = _patient(practice_a)
        message = _send(practice_a, patient)  # no commit callbacks run: still queued
        assert services.message_deliver(message_id=message.pk) == "sent"
        assert services.message_deliver(message_id=message.pk) == ""
        message.refresh_from_db()
        assert message.attempts == 1


def test_stuck_sms_is_requeued_only_without_provider_id(practice_a):
    with practice_scope(practice_a):
        patient = _patient(practice_a)
        lost = _send(practice_a, patient, idem="a")
        reached = _send(practice_a, patient, idem="b")
        email = _send(practice_a, patient, idem="c", channel=Channel.EMAIL)
        recent = _send(practice_a, patient, idem="d")
        old = datetime.now(UTC) - timedelta(minutes=11)
        Message.objects.filter(pk__in=[lost.pk, reached.pk, email.pk]).update(status="sending", updated_at=old)
        Message.objects.filter(pk=reached.pk).update(provider_id="SM123")
        Message.objects.filter(pk=recent.pk).update(status="sending")
        requeue = services.messages_recover_stuck()
        statuses = dict(Message.objects.values_list("idempotency_key", "status"))
        assert statuses == {"a": "queued", "b": "sent", "c": "queued", "d": "sending"}
        assert set(requeue) == {lost.pk, email.pk}


# --- reminders -------------------------------------------------------------------------------


def _appointment(practice, starts_at, *, location_tz="America/New_York", **kw):
    location = LocationFactory(practice=practice, timezone=location_tz)
    appointment = AppointmentFactory(
        practice=practice, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=45), location=location, **kw
    )
    AttendeeFactory(appointment=appointment)
    return appointment


def _rules(practice):
    services.notifications_install_defaults(practice=practice)
    return {r.channel: r for r in ReminderRule.objects.all()}


@time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)
def test_sync_creates_one_reminder_per_attendee_and_rule(practice_a, practice_b):
    with practice_scope(practice_a):
        rules = _rules(practice_a)
        appt = _appointment(practice_a, datetime(2026, 6, 10, 18, tzinfo=UTC))  # 2 pm in New York
        AttendeeFactory(appointment=appt)  # a group of two
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
        services.reminders_sync_for_appointment(appointment_id=appt.pk)  # idempotent
        reminders = list(Reminder.objects.filter(appointment=appt))
        assert len(reminders) == 4
        by_channel = {r.channel: r.due_at for r in reminders}
        assert by_channel[Channel.EMAIL] == datetime(2026, 6, 8, 18, tzinfo=UTC)
        assert by_channel[Channel.SMS] == datetime(2026, 6, 9, 18, tzinfo=UTC)
        assert rules[Channel.SMS].minutes_before == 1440
    with practice_scope(practice_b):
        assert not Reminder.objects.exists()


@time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)
def test_quiet_hours_move_the_reminder_to_their_end_in_the_patients_zone(practice_a):
    with practice_scope(practice_a):
        _rules(practice_a)
        # 7:30 am in Los Angeles; the SMS 24 h before is 7:30 am there: quiet until 8:00.
        appt = _appointment(practice_a, datetime(2026, 6, 10, 14, 30, tzinfo=UTC), location_tz="America/Los_Angeles")
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
        sms = Reminder.objects.get(appointment=appt, channel=Channel.SMS)
        assert sms.due_at == datetime(2026, 6, 9, 15, 0, tzinfo=UTC)  # 8:00 PDT


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # New York springs forward 2026-03-08 02:00. Due 21:30 EST on Mar 7 is quiet; the end, 08:00 on
        # Mar 8, is already EDT: 12:00 UTC (not 13:00).
        (datetime(2026, 3, 9, 2, 30, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        # Falls back 2026-11-01 02:00. Due 00:00 EDT on Nov 1 is quiet; 08:00 that day is EST: 13:00 UTC.
        (datetime(2026, 11, 2, 4, 0, tzinfo=UTC), datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_across_dst_changes(start, expected):
    due = services.reminder_due_at(
        starts_at=start, minutes_before=24 * 60, zone_name="America/New_York", quiet_start=time(21), quiet_end=time(8)
    )
    assert due == expected


def test_quiet_hours_in_europe_dst_and_too_late_is_skipped():
    # London, clocks go forward 2026-03-29 01:00 UTC. Due 2026-03-29 06:30 BST -> 08:00 BST = 07:00 UTC.
    due = services.reminder_due_at(
        starts_at=datetime(2026, 3, 29, 6, 30, tzinfo=UTC),
        minutes_before=60,
        zone_name="Europe/London",
        quiet_start=time(21),
        quiet_end=time(8),
    )
    assert due is None  # 08:00 BST is after the 07:30 BST start: skipped
    due = services.reminder_due_at(
        starts_at=datetime(2026, 3, 29, 9, 0, tzinfo=UTC),
        minutes_before=180,
        zone_name="Europe/London",
        quiet_start=time(21),
        quiet_end=time(8),
    )
    assert due == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


@time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)
def test_sync_reschedules_pending_and_cancels_on_cancellation(practice_a):
    with practice_scope(practice_a):
        _rules(practice_a)
        appt = _appointment(practice_a, datetime(2026, 6, 10, 18, tzinfo=UTC))
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
        Appointment.objects.filter(pk=appt.pk).update(
            starts_at=datetime(2026, 6, 12, 18, tzinfo=UTC), ends_at=datetime(2026, 6, 12, 18, 45, tzinfo=UTC)
        )
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
        sms = Reminder.objects.get(appointment=appt, channel=Channel.SMS)
        assert (sms.status, sms.due_at) == ("pending", datetime(2026, 6, 11, 18, tzinfo=UTC))
        Appointment.objects.filter(pk=appt.pk).update(status="cancelled")
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
        assert set(Reminder.objects.values_list("status", flat=True)) == {"cancelled"}


@time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)
def test_sync_cancels_a_no_show_attendees_reminders_only(practice_a):
    with practice_scope(practice_a):
        _rules(practice_a)
        appt = _appointment(practice_a, datetime(2026, 6, 10, 18, tzinfo=UTC))
        other = AttendeeFactory(appointment=appt)
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
        other.status = "cancelled"
        other.save()
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
        assert set(Reminder.objects.filter(attendee=other).values_list("status", flat=True)) == {"cancelled"}
        assert set(Reminder.objects.exclude(attendee=other).values_list("status", flat=True)) == {"pending"}


@time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False)
def test_booking_inside_a_rules_window_skips_that_reminder(practice_a):
    with practice_scope(practice_a):
        _rules(practice_a)
        appt = _appointment(practice_a, datetime(2026, 6, 2, 18, tzinfo=UTC))  # 30 hours ahead
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
        statuses = dict(Reminder.objects.values_list("channel", "status"))
        assert statuses == {"email": "skipped", "sms": "pending"}


def test_dispatch_sends_each_due_reminder_once(practice_a, practice_b, django_capture_on_commit_callbacks):
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False), practice_scope(practice_a):
        _rules(practice_a)
        appts = [_appointment(practice_a, datetime(2026, 6, 2, 16 + i, tzinfo=UTC)) for i in range(3)]
        for appt in appts:
            CommunicationConsentFactory(patient=appt.attendees.get().patient, channel="sms", is_granted=True)
            services.reminders_sync_for_appointment(appointment_id=appt.pk)
    with time_machine.travel(datetime(2026, 6, 1, 19, tzinfo=UTC), tick=False), practice_scope(practice_a):
        with django_capture_on_commit_callbacks(execute=True):
            assert services.reminders_dispatch_due() == 3
            assert services.reminders_dispatch_due() == 0
        assert Reminder.objects.filter(status="sent").count() == 3
        assert Message.objects.filter(status="sent", channel="sms").count() == 3
        keys = set(Message.objects.values_list("idempotency_key", flat=True))
        assert keys == {f"reminder:{pk}" for pk in Reminder.objects.filter(status="sent").values_list("pk", flat=True)}
        body = Message.objects.first().body
        assert "Reply C to confirm" in body


def test_dispatch_skips_a_patient_without_consent(practice_a, django_capture_on_commit_callbacks):
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False), practice_scope(practice_a):
        _rules(practice_a)
        appt = _appointment(practice_a, datetime(2026, 6, 2, 16, tzinfo=UTC))
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
    with time_machine.travel(datetime(2026, 6, 1, 19, tzinfo=UTC), tick=False), practice_scope(practice_a):
        with django_capture_on_commit_callbacks(execute=True):
            services.reminders_dispatch_due()
        reminder = Reminder.objects.get(channel="sms")
        assert reminder.status == "skipped"
        assert reminder.message.status == "suppressed"


def test_a_claimed_reminder_is_not_claimed_again_and_recovers_after_a_crash(practice_a):
    with time_machine.travel(datetime(2026, 6, 1, 12, tzinfo=UTC), tick=False), practice_scope(practice_a):
        _rules(practice_a)
        appt = _appointment(practice_a, datetime(2026, 6, 2, 16, tzinfo=UTC))
        services.reminders_sync_for_appointment(appointment_id=appt.pk)
        sms = Reminder.objects.get(channel="sms")
    with time_machine.travel(datetime(2026, 6, 1, 19, tzinfo=UTC), tick=False), practice_scope(practice_a):
        assert services._claim_reminder(sms.pk, datetime.now(UTC))  # a worker claims it, then dies
        assert services.reminders_dispatch_due() == 0
        assert services.reminders_recover_stuck() == 0  # not stale yet
    with time_machine.travel(datetime(2026, 6, 1, 19, 11, tzinfo=UTC), tick=False), practice_scope(practice_a):
        assert services.reminders_recover_stuck() == 1
        assert services.reminders_dispatch_due() == 1
        assert Message.objects.filter(idempotency_key=f"reminder:{sms.pk}").count() == 1


def test_install_defaults_is_idempotent(practice_a):
    with practice_scope(practice_a):
        assert services.notifications_install_defaults(practice=practice_a) > 0
        assert services.notifications_install_defaults(practice=practice_a) == 0
        assert MessageTemplate.objects.count() == 19  # 14 + statement + portal invitation (2) + portal message (2)
        assert sorted(ReminderRule.objects.values_list("channel", "minutes_before")) == [("email", 2880), ("sms", 1440)]
