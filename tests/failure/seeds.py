"""Due work for the failure tests, and the exactly-once checks on it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_scopes import scopes_disabled

from assessments.models import Administration
from clinical.tests.factories import CommunicationConsentFactory, PatientFactory
from notifications.models import Message, Reminder
from notifications.tests.factories import NotificationSettingsFactory, ReminderFactory, ReminderRuleFactory
from scheduling.tests.factories import AppointmentFactory, AttendeeFactory

OPEN_MESSAGE = ("queued", "sending")


def due_sms_reminders(practice, n: int) -> list[int]:
    """n due SMS reminders, one appointment and patient each, SMS consent granted."""
    now = timezone.now()
    ids = []
    with scopes_disabled():
        NotificationSettingsFactory(practice=practice, sms_from_number="+15035550100")
        rule = ReminderRuleFactory(practice=practice, channel="sms", minutes_before=24 * 60)
        for i in range(n):
            appointment = AppointmentFactory(
                practice=practice,
                starts_at=now + timedelta(hours=3, minutes=i),
                ends_at=now + timedelta(hours=4, minutes=i),
            )
            attendee = AttendeeFactory(appointment=appointment)
            CommunicationConsentFactory(patient=attendee.patient, channel="sms", is_granted=True)
            ids.append(ReminderFactory(attendee=attendee, rule=rule, due_at=now - timedelta(minutes=1)).pk)
    return ids


def due_email_questionnaires(practice, n: int) -> list[int]:
    """n PHQ-9s due now by email, one patient each, email consent granted."""
    ids = []
    with scopes_disabled():
        for _ in range(n):
            patient = PatientFactory(practice=practice)
            CommunicationConsentFactory(patient=patient, channel="email", is_granted=True)
            ids.append(
                Administration.all_objects.create(
                    practice=practice,
                    patient=patient,
                    instrument_code="PHQ-9",
                    channel="email",
                    status=Administration.Status.SCHEDULED,
                    due_at=timezone.now() - timedelta(minutes=1),
                ).pk
            )
    return ids


def reminder_messages(ids: list[int]) -> list[Message]:
    with scopes_disabled():
        return list(Message.all_objects.filter(idempotency_key__in=[f"reminder:{pk}" for pk in ids]))


def questionnaire_messages(ids: list[int]) -> list[Message]:
    with scopes_disabled():
        return list(Message.all_objects.filter(idempotency_key__in=[f"questionnaire:{pk}" for pk in ids]))


def reminders_settled(ids: list[int]) -> bool:
    with scopes_disabled():
        if Reminder.all_objects.filter(pk__in=ids, status__in=("pending", "sending")).exists():
            return False
    messages = reminder_messages(ids)
    return len(messages) == len(ids) and not any(m.status in OPEN_MESSAGE for m in messages)


def questionnaires_settled(ids: list[int]) -> bool:
    with scopes_disabled():
        if Administration.all_objects.filter(pk__in=ids, status="scheduled").exists():
            return False
    messages = questionnaire_messages(ids)
    return len(messages) == len(ids) and not any(m.status in OPEN_MESSAGE for m in messages)


def assert_each_message_reached_the_provider_once(messages: list[Message], received: list[str]) -> None:
    """Exactly once per message id: nothing lost (every message reached the provider), nothing
    duplicated (no id twice, no request that is not one of these messages)."""
    expected = sorted(str(m.public_id) for m in messages)
    duplicates = sorted({i for i in received if received.count(i) > 1})
    assert not duplicates, f"{len(duplicates)} message(s) reached the provider more than once"
    assert sorted(received) == expected, (
        f"{len(set(expected) - set(received))} message(s) never reached the provider, "
        f"{len(set(received) - set(expected))} unexpected request(s)"
    )
