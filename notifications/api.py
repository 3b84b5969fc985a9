"""REST API of notifications (/api/v1/): the outbox (messages, read-only), message templates,
reminder rules and the practice's messaging settings.

Same rule as the pages: every endpoint needs PRACTICE_MANAGE_SETTINGS (the outbox says who was
texted or emailed what and when; it belongs to whoever configures messaging). Reads of messages
write access events; writes go through notifications.services. The outbox list has no bodies;
one message's detail has its subject and body, as its page does. Messages are never sent or
edited through the API: they are created by the services that need them (reminders, offers...).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from notifications import selectors, services
from notifications import serializers as s
from notifications.models import Message, MessageTemplate, NotificationSettings, ReminderRule
from practice.api_auth import PracticeScopedAPIMixin
from practice.audit import access_record
from practice.models import AccessEvent, Membership
from practice.permissions import Perm
from practice.serializers import ErrorOut

ERRORS = {
    400: OpenApiResponse(ErrorOut, description="Invalid input; error.fields names the fields"),
    401: OpenApiResponse(ErrorOut, description="Not authenticated"),
    403: OpenApiResponse(ErrorOut, description="Not allowed for this role (or outside the API key's scopes)"),
    404: OpenApiResponse(ErrorOut, description="Not found (or in another practice)"),
    409: OpenApiResponse(ErrorOut, description="A rule refused the change"),
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


_READ = _errors(400, 401, 403)
_READ_ONE = _errors(401, 403, 404)
_WRITE = _errors(400, 401, 403, 404, 409)


class _NotificationsViewSet(PracticeScopedAPIMixin, viewsets.GenericViewSet):
    lookup_field = "public_id"
    api_scope = "notifications"
    required_perm = Perm.PRACTICE_MANAGE_SETTINGS

    @property
    def membership(self) -> Membership:
        return self.request.membership

    def parse(self, serializer_class: type, data: Any, *, partial: bool = False) -> dict[str, Any]:
        form = serializer_class(data=data, partial=partial)
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    def query(self, serializer_class: type) -> dict[str, Any]:
        return self.parse(serializer_class, self.request.query_params.dict())

    def paginated(self, queryset: Any) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def ensure_defaults(self) -> None:
        # Practices created before notifications existed get their defaults on first use (as the pages do).
        if not NotificationSettings.objects.exists() or not MessageTemplate.objects.exists():
            services.notifications_install_defaults(practice=self.request.practice)


@extend_schema_view(
    list=extend_schema(parameters=[s.MessageFilterIn], responses={200: s.MessageOut(many=True), **_READ}),
    retrieve=extend_schema(responses={200: s.MessageDetailOut, **_READ_ONE}),
)
class MessageViewSet(_NotificationsViewSet):
    """The outbox: every email and SMS to patients, newest first, with its delivery status.
    Filter by status, channel, patient and the days it was created (practice time zone)."""

    exposes_model = Message
    serializer_class = s.MessageOut

    def get_serializer_class(self) -> type:
        return s.MessageDetailOut if self.action == "retrieve" else s.MessageOut

    def get_queryset(self) -> QuerySet[Message]:
        if getattr(self, "swagger_fake_view", False):
            return Message.all_objects.none()
        return Message.objects.select_related("patient", "appointment").order_by("-created_at", "-id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.MessageFilterIn)
        zone = ZoneInfo(request.practice.timezone)
        queryset = self.get_queryset()
        patient_id = filters.get("patient")
        if patient_id:
            queryset = queryset.filter(patient__public_id=patient_id)
        if filters.get("status"):
            queryset = queryset.filter(status=filters["status"])
        if filters.get("channel"):
            queryset = queryset.filter(channel=filters["channel"])
        if filters.get("start"):
            queryset = queryset.filter(created_at__gte=datetime.combine(filters["start"], time.min, tzinfo=zone))
        if filters.get("end"):
            next_day = filters["end"] + timedelta(days=1)
            queryset = queryset.filter(created_at__lt=datetime.combine(next_day, time.min, tzinfo=zone))
        access_record(
            request=request._request,
            action=AccessEvent.Action.LIST,
            object_type="notifications.message",
            patient_id=patient_id,
        )
        return self.paginated(queryset)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            message = selectors.message_get(public_id=kwargs["public_id"])
        except Message.DoesNotExist as exc:
            raise NotFound from exc
        access_record(request=request._request, action=AccessEvent.Action.VIEW, target=message)
        return Response(s.MessageDetailOut(message).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[s.MessageTemplateFilterIn], responses={200: s.MessageTemplateOut(many=True), **_READ}
    ),
    retrieve=extend_schema(responses={200: s.MessageTemplateOut, **_READ_ONE}),
    partial_update=extend_schema(request=s.MessageTemplateUpdateIn, responses={200: s.MessageTemplateOut, **_WRITE}),
)
class MessageTemplateViewSet(_NotificationsViewSet):
    """The practice's message templates, one per kind and channel. Bodies use only the
    {{ variables }} listed for their kind (nothing clinical is offered); PATCH subject, body or
    is_active (a variable not allowed is a 400 naming the field)."""

    exposes_model = MessageTemplate
    serializer_class = s.MessageTemplateOut

    def get_queryset(self) -> QuerySet[MessageTemplate]:
        if getattr(self, "swagger_fake_view", False):
            return MessageTemplate.all_objects.none()
        return selectors.message_templates().order_by("key", "channel", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.MessageTemplateFilterIn)
        self.ensure_defaults()
        queryset = self.get_queryset()
        if filters.get("key"):
            queryset = queryset.filter(key=filters["key"])
        if filters.get("channel"):
            queryset = queryset.filter(channel=filters["channel"])
        return self.paginated(queryset)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        template = self.get_object()
        data = self.parse(s.MessageTemplateUpdateIn, request.data, partial=True)
        template = services.message_template_save(
            by=self.membership,
            template=template,
            subject=data.get("subject", template.subject),
            body=data.get("body", template.body),
            is_active=data.get("is_active", template.is_active),
        )
        return Response(s.MessageTemplateOut(template).data)


@extend_schema_view(
    list=extend_schema(responses={200: s.ReminderRuleOut(many=True), **_READ}),
    retrieve=extend_schema(responses={200: s.ReminderRuleOut, **_READ_ONE}),
    create=extend_schema(request=s.ReminderRuleIn, responses={201: s.ReminderRuleOut, **_WRITE}),
    partial_update=extend_schema(request=s.ReminderRuleUpdateIn, responses={200: s.ReminderRuleOut, **_WRITE}),
)
class ReminderRuleViewSet(_NotificationsViewSet):
    """When reminders go out (e.g. email 48 hours and SMS 24 hours before). Adding a rule that
    exists switched off switches it back on; switching one off cancels its pending reminders."""

    exposes_model = ReminderRule
    serializer_class = s.ReminderRuleOut

    def get_queryset(self) -> QuerySet[ReminderRule]:
        if getattr(self, "swagger_fake_view", False):
            return ReminderRule.all_objects.none()
        return selectors.reminder_rules().order_by("-is_active", "-minutes_before", "channel", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.ensure_defaults()
        return self.paginated(self.get_queryset())

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.ReminderRuleIn, request.data)
        rule = services.reminder_rule_add(by=self.membership, **data)
        return Response(s.ReminderRuleOut(rule).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rule = self.get_object()
        data = self.parse(s.ReminderRuleUpdateIn, request.data)
        rule = services.reminder_rule_set_active(by=self.membership, rule=rule, is_active=data["is_active"])
        return Response(s.ReminderRuleOut(rule).data)


@extend_schema_view(
    retrieve=extend_schema(responses={200: s.NotificationSettingsOut, **_errors(401, 403)}),
    partial_update=extend_schema(
        request=s.NotificationSettingsIn, responses={200: s.NotificationSettingsOut, **_WRITE}
    ),
)
class NotificationSettingsViewSet(_NotificationsViewSet):
    """The practice's messaging settings (one per practice): SMS number, quiet hours, and how much
    logistics (clinician's name, location) reminders may show."""

    exposes_model = None  # one row per practice, no id in the URL
    serializer_class = s.NotificationSettingsOut
    pagination_class = None

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = services.notification_settings_get(practice_id=request.practice.pk)
        return Response(s.NotificationSettingsOut(row).data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.NotificationSettingsIn, request.data, partial=True)
        row = services.notification_settings_update(by=self.membership, **data)
        return Response(s.NotificationSettingsOut(row).data)
