"""Factories for notifications. Create inside practice_scope(...) or scopes_disabled()."""

from __future__ import annotations

from datetime import timedelta

import factory

from clinical.tests.factories import PatientFactory, ScopedFactory
from notifications import models as m
from practice.tests.factories import PracticeFactory
from scheduling.tests.factories import AttendeeFactory


class NotificationSettingsFactory(ScopedFactory):
    class Meta:
        model = m.NotificationSettings
        django_get_or_create = ("practice",)

    practice = factory.SubFactory(PracticeFactory)
    sms_from_number = "+15035550100"


class MessageTemplateFactory(ScopedFactory):
    class Meta:
        model = m.MessageTemplate

    practice = factory.SubFactory(PracticeFactory)
    key = m.MessageTemplate.Key.REMINDER
    channel = m.Channel.SMS
    body = "Reminder: appointment on {{ date }} at {{ time }}. Reply C to confirm."

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Practices get their default templates lazily: reuse the row of that key and channel.
        lookup = {k: kwargs.pop(k) for k in ("practice", "key", "channel")}
        obj, _ = model_class.all_objects.get_or_create(**lookup, defaults=kwargs)
        return obj


class MessageFactory(ScopedFactory):
    class Meta:
        model = m.Message

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.LazyAttribute(lambda o: PatientFactory(practice=o.practice))
    channel = m.Channel.SMS
    to_address = "+15035550142"
    body = "Reminder: appointment on Tue Dec 1 at 3:00 PM."
    idempotency_key = factory.Sequence(lambda n: f"test-message-{n}")


class ReminderRuleFactory(ScopedFactory):
    class Meta:
        model = m.ReminderRule
        django_get_or_create = ("practice", "channel", "minutes_before")

    practice = factory.SubFactory(PracticeFactory)
    channel = m.Channel.SMS
    minutes_before = 24 * 60

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Practices get the default rules lazily: reuse the row of that channel and offset.
        lookup = {k: kwargs.pop(k) for k in ("practice", "channel", "minutes_before")}
        obj, _ = model_class.all_objects.get_or_create(**lookup, defaults=kwargs)
        return obj


class ReminderFactory(ScopedFactory):
    class Meta:
        model = m.Reminder

    attendee = factory.SubFactory(AttendeeFactory)
    practice = factory.LazyAttribute(lambda o: o.attendee.practice)
    appointment = factory.LazyAttribute(lambda o: o.attendee.appointment)
    rule = factory.LazyAttribute(lambda o: ReminderRuleFactory(practice=o.practice))
    channel = factory.LazyAttribute(lambda o: o.rule.channel)
    due_at = factory.LazyAttribute(lambda o: o.appointment.starts_at - timedelta(minutes=o.rule.minutes_before))


class InboundMessageFactory(ScopedFactory):
    class Meta:
        model = m.InboundMessage

    practice = factory.SubFactory(PracticeFactory)
    from_number = "+15035550142"
    to_number = "+15035550100"
    body = "C"
    provider_id = factory.Sequence(lambda n: f"SM{n:032d}")
