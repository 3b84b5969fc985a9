"""Notifications: reads. Explicit select_related; callers run inside the practice scope."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from notifications.models import Message, MessageTemplate, Reminder, ReminderRule


def outbox_messages(
    *, status: str = "", channel: str = "", start: date | None = None, end: date | None = None, zone=None
) -> QuerySet[Message]:
    """Newest first; dates are whole days in `zone` (the practice's)."""
    qs = Message.objects.select_related("patient").order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    zone = zone or timezone.get_current_timezone()
    if start:
        qs = qs.filter(created_at__gte=datetime.combine(start, time.min, tzinfo=zone))
    if end:
        qs = qs.filter(created_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone))
    return qs


def message_get(*, public_id) -> Message:
    return Message.objects.select_related("patient", "appointment").get(public_id=public_id)


def message_reminder(*, message: Message) -> Reminder | None:
    return Reminder.objects.select_related("rule").filter(message=message).first()


def message_templates() -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.order_by("key", "channel")


def reminder_rules() -> QuerySet[ReminderRule]:
    return ReminderRule.objects.order_by("-is_active", "-minutes_before", "channel")
