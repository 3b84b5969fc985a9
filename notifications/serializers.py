"""API shapes of notifications. Parse and render only: writes go through notifications.services.

The outbox list carries no subject or body (the outbox page does not show them either); one
message's detail does, as its page does.
"""

from __future__ import annotations

from rest_framework import serializers

from notifications.models import Channel, Message, MessageTemplate, NotificationSettings, ReminderRule
from notifications.services import ALLOWED_VARIABLES


class _PublicId(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)


class MessageOut(_PublicId):
    patient = serializers.UUIDField(source="patient.public_id", read_only=True, allow_null=True)
    appointment = serializers.UUIDField(source="appointment.public_id", read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "patient",
            "appointment",
            "channel",
            "to_address",
            "template_key",
            "status",
            "attempts",
            "last_error",
            "sent_at",
            "created_at",
        ]
        read_only_fields = fields


class MessageDetailOut(MessageOut):
    class Meta(MessageOut.Meta):
        fields = [*MessageOut.Meta.fields, "subject", "body", "backend", "provider_id"]
        read_only_fields = fields


class MessageFilterIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    patient = serializers.UUIDField(required=False)
    start = serializers.DateField(required=False, help_text="Created on or after this day (practice time zone).")
    end = serializers.DateField(required=False, help_text="Created on or before this day (practice time zone).")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["The end date is before the start date."]})
        return attrs


class MessageTemplateOut(_PublicId):
    allowed_variables = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = ["id", "key", "channel", "subject", "body", "is_active", "allowed_variables", "updated_at"]
        read_only_fields = fields

    def get_allowed_variables(self, template: MessageTemplate) -> list[str]:
        return sorted(ALLOWED_VARIABLES.get(template.key, ()))


class MessageTemplateUpdateIn(serializers.Serializer):
    """Only {{ variables }} of the template's kind (allowed_variables); no template tags."""

    subject = serializers.CharField(max_length=200, required=False, allow_blank=True, help_text="Email only.")
    body = serializers.CharField(max_length=1600, required=False)
    is_active = serializers.BooleanField(required=False)


class MessageTemplateFilterIn(serializers.Serializer):
    key = serializers.ChoiceField(choices=MessageTemplate.Key.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)


class ReminderRuleOut(_PublicId):
    class Meta:
        model = ReminderRule
        fields = ["id", "channel", "minutes_before", "is_active"]
        read_only_fields = fields


class ReminderRuleIn(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    minutes_before = serializers.IntegerField(min_value=15, max_value=14 * 24 * 60, help_text="2880 = 48 hours")


class ReminderRuleUpdateIn(serializers.Serializer):
    is_active = serializers.BooleanField()


class NotificationSettingsOut(serializers.ModelSerializer):
    class Meta:
        model = NotificationSettings
        fields = [
            "sms_from_number",
            "quiet_hours_start",
            "quiet_hours_end",
            "include_clinician_name",
            "include_location",
            "reply_to_email",
        ]
        read_only_fields = fields


class NotificationSettingsIn(serializers.Serializer):
    sms_from_number = serializers.CharField(max_length=20, required=False, allow_blank=True)
    quiet_hours_start = serializers.TimeField(required=False)
    quiet_hours_end = serializers.TimeField(required=False)
    include_clinician_name = serializers.BooleanField(required=False)
    include_location = serializers.BooleanField(required=False)
    reply_to_email = serializers.EmailField(required=False, allow_blank=True)
