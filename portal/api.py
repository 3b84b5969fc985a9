"""REST API of the staff side of portal secure messages (/api/v1/message-threads/).

Same rules as the staff inbox pages (portal/views_staff_messages.py): Perm.MESSAGES_VIEW; a clinician
sees the threads of their caseload only (another patient's thread is a 404); reading a thread
records the caller's read receipts and an access event; replies and new threads go through
`portal.services_messages` (messaging switched off for the patient, or a closed thread, is refused
in the API's error shape). Attachments are listed as metadata only: files are not sent or
served through the API.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from clinical.access import can_view_demographics
from clinical.models import Patient
from portal import selectors_messages as selectors
from portal import services_messages as services
from portal.models import MessageThread, ThreadAttachment, ThreadMessage
from practice.api_auth import AuditedReadMixin, PracticeScopedAPIMixin
from practice.audit import access_record
from practice.models import AccessEvent, Membership
from practice.permissions import Perm

REFUSED = OpenApiResponse(
    description="Refused by a messaging rule (the error shape), e.g. messaging_off: portal messaging is off for this patient."
)

# --- Serializers -------------------------------------------------------------------------------


class ThreadAttachmentOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = ThreadAttachment
        fields = ["id", "original_filename", "content_type", "size_bytes", "sha256", "created_at"]
        read_only_fields = fields


class ThreadMessageOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    from_patient = serializers.BooleanField(read_only=True)
    sender_member = serializers.UUIDField(source="sender_member.public_id", read_only=True, allow_null=True)
    sender_name = serializers.SerializerMethodField()
    attachments = ThreadAttachmentOut(many=True, read_only=True)

    class Meta:
        model = ThreadMessage
        fields = [
            "id",
            "from_patient",
            "sender_member",
            "sender_name",
            "body",
            "sent_at",
            "read_by_patient_at",
            "attachments",
        ]
        read_only_fields = fields

    def get_sender_name(self, obj: ThreadMessage) -> str:
        if obj.sender_member_id:
            return obj.sender_member.user.full_name
        return obj.sender_user.full_name if obj.sender_user_id else ""


class MessageThreadOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    assigned_to = serializers.UUIDField(source="assigned_to.public_id", read_only=True, allow_null=True)
    is_closed = serializers.SerializerMethodField()
    message_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = MessageThread
        fields = [
            "id",
            "patient",
            "subject",
            "status",
            "is_closed",
            "assigned_to",
            "started_by_patient",
            "needs_reply",
            "last_message_at",
            "message_count",
            "created_at",
        ]
        read_only_fields = fields

    def get_is_closed(self, obj: MessageThread) -> bool:
        return obj.status == MessageThread.Status.CLOSED


class MessageThreadDetailOut(MessageThreadOut):
    messages = ThreadMessageOut(many=True, read_only=True, source="message_list")

    class Meta(MessageThreadOut.Meta):
        fields = [*MessageThreadOut.Meta.fields, "messages"]
        read_only_fields = fields


class MessageThreadFilterIn(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    assigned_to = serializers.UUIDField(required=False, help_text="A member's id.")
    is_closed = serializers.BooleanField(required=False, allow_null=True, default=None)


class MessageThreadStartIn(serializers.Serializer):
    patient = serializers.UUIDField()
    subject = serializers.CharField(max_length=150)
    body = serializers.CharField(max_length=5000)


class ReplyIn(serializers.Serializer):
    body = serializers.CharField(max_length=5000)


# --- Views -------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(parameters=[MessageThreadFilterIn], responses=MessageThreadOut(many=True)),
    retrieve=extend_schema(
        responses=MessageThreadDetailOut,
        description="The thread with its messages, oldest first; marks the patient's messages read by the caller.",
    ),
    create=extend_schema(
        request=MessageThreadStartIn,
        responses={201: MessageThreadDetailOut, 409: REFUSED},
        description="Write to a patient: a new thread assigned to the caller (the patient is told a message waits).",
    ),
    reply=extend_schema(
        request=ReplyIn,
        responses={201: ThreadMessageOut, 409: REFUSED},
        description="Reply to the patient (a closed thread is a 400 on body; reopen it first).",
    ),
)
class MessageThreadViewSet(PracticeScopedAPIMixin, AuditedReadMixin, viewsets.GenericViewSet):
    """Portal secure-message threads of the patients the caller may see."""

    api_scope = "clinical"
    lookup_field = "public_id"
    exposes_model = MessageThread
    serializer_class = MessageThreadOut
    required_perm = Perm.MESSAGES_VIEW

    def get_queryset(self) -> QuerySet[MessageThread]:
        if getattr(self, "swagger_fake_view", False):
            return MessageThread.all_objects.none()
        return (
            selectors.visible_threads(self.membership)
            .select_related("patient", "assigned_to")
            .annotate(message_count=Count("messages"))
            .order_by("-last_message_at", "-id")
        )

    def _filters(self) -> dict[str, Any]:
        form = MessageThreadFilterIn(data=self.request.query_params.dict())
        form.is_valid(raise_exception=True)
        return form.validated_data

    def _patient(self, public_id: Any) -> Patient:
        patient = Patient.objects.filter(public_id=public_id).first()
        if patient is None or not can_view_demographics(self.membership, patient):
            raise NotFound("No such patient.")
        return patient

    def _detail(self, thread: MessageThread) -> dict[str, Any]:
        thread.message_list = selectors.thread_messages(thread)
        thread.message_count = len(thread.message_list)
        return MessageThreadDetailOut(thread).data

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self._filters()
        queryset, patient = self.get_queryset(), None
        if filters.get("patient"):
            patient = self._patient(filters["patient"])
            queryset = queryset.filter(patient=patient)
        if filters.get("assigned_to"):
            member = Membership.objects.filter(public_id=filters["assigned_to"]).first()
            if member is None:
                raise NotFound("No such member.")
            queryset = queryset.filter(assigned_to=member)
        if filters.get("is_closed") is not None:
            closed = MessageThread.Status.CLOSED
            queryset = queryset.filter(status=closed) if filters["is_closed"] else queryset.exclude(status=closed)
        return self.audited_list(queryset, object_type="portal.messagethread", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        thread = self.get_object()
        services.thread_mark_read_by_staff(thread=thread, by=self.membership)
        access_record(request=request._request, action=AccessEvent.Action.VIEW, target=thread)
        return Response(self._detail(thread))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = MessageThreadStartIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = self._patient(data.validated_data["patient"])
        thread = services.thread_start_by_staff(
            patient=patient,
            by=self.membership,
            subject=data.validated_data["subject"],
            body=data.validated_data["body"],
        )
        return Response(self._detail(self.get_queryset().get(pk=thread.pk)), status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def reply(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        thread = self.get_object()
        data = ReplyIn(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_reply_by_staff(thread=thread, by=self.membership, body=data.validated_data["body"])
        message = (
            ThreadMessage.objects.select_related("sender_member__user", "sender_user")
            .prefetch_related(Prefetch("attachments", queryset=ThreadAttachment.objects.order_by("created_at", "id")))
            .get(pk=message.pk)
        )
        return Response(ThreadMessageOut(message).data, status=status.HTTP_201_CREATED)
