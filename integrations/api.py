"""REST API of integrations (/api/v1/): webhook endpoints and their deliveries, import and export jobs.

Same rules as the Settings pages: INTEGRATIONS_MANAGE for webhooks, DATA_IMPORT for import jobs,
DATA_EXPORT for export jobs. Writes go through `integrations.webhooks`; its DomainError becomes the
API's error shape. A signing secret is returned once, in the answer that made it (create and
rotate-secret), never on a read. Import jobs are read without their CSV content; export jobs are
read without their file: the archive is downloaded once, by an owner, from the Settings page only
(no API token or key can fetch it).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from integrations import webhooks as services
from integrations.models import ExportJob, ImportJob, WebhookDelivery, WebhookEndpoint
from practice.api_auth import PracticeScopedAPIMixin
from practice.permissions import Perm

CONFLICT = OpenApiResponse(description="A webhook rule said no (the error shape, with its code).")

# --- Serializers -------------------------------------------------------------------------------


class WebhookEndpointOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    events = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointSecretOut(WebhookEndpointOut):
    """The endpoint with its signing secret: only in the answer that made the secret."""

    secret = serializers.SerializerMethodField()

    class Meta(WebhookEndpointOut.Meta):
        fields = [*WebhookEndpointOut.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, obj: WebhookEndpoint) -> str:
        return self.context["secret"]


class WebhookEndpointIn(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(services.EVENT_TYPES)), allow_empty=False, max_length=20
    )


class WebhookEndpointPatchIn(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(services.EVENT_TYPES)),
        allow_empty=False,
        max_length=20,
        required=False,
    )
    is_active = serializers.BooleanField(required=False)


class WebhookDeliveryOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    endpoint = serializers.UUIDField(source="endpoint.public_id", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempted_at",
            "response_status",
            "error",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailOut(WebhookDeliveryOut):
    """One delivery as its page shows it: the signed body sent and the receiver's reply (first
    1,000 characters, as stored)."""

    payload = serializers.JSONField(read_only=True)

    class Meta(WebhookDeliveryOut.Meta):
        fields = [*WebhookDeliveryOut.Meta.fields, "payload", "response_body"]
        read_only_fields = fields


class WebhookDeliveryFilterIn(serializers.Serializer):
    endpoint = serializers.UUIDField(required=False, help_text="Only this endpoint's deliveries.")
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)


class ImportRowErrorOut(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, required=False)
    column = serializers.CharField(allow_blank=True, required=False)
    reason = serializers.CharField()


class ImportJobOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    progress_percent = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    row_errors = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "filename",
            "status",
            "total_rows",
            "processed_rows",
            "progress_percent",
            "counts",
            "row_errors",
            "error",
            "started_at",
            "finished_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_progress_percent(self, obj: ImportJob) -> int:
        if not obj.total_rows:
            return 100 if obj.status == ImportJob.Status.IMPORTED else 0
        return min(100, obj.processed_rows * 100 // obj.total_rows)

    def get_counts(self, obj: ImportJob) -> dict[str, int]:
        counts = (obj.report or {}).get("counts") or {}
        return {str(k): v for k, v in counts.items() if isinstance(v, int)}

    @extend_schema_field(ImportRowErrorOut(many=True))
    def get_row_errors(self, obj: ImportJob) -> list[dict[str, Any]]:
        errors = (obj.report or {}).get("errors") or []
        return [
            {"row": e.get("row"), "column": e.get("column") or "", "reason": str(e.get("reason", ""))} for e in errors
        ]


class ExportJobOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    counts = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "status",
            "size_bytes",
            "sha256",
            "counts",
            "error",
            "finished_at",
            "downloaded_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_counts(self, obj: ExportJob) -> dict[str, int]:
        return {str(k): v for k, v in (obj.counts or {}).items() if isinstance(v, int)}


# --- Views -------------------------------------------------------------------------------------


class _IntegrationsViewSet(PracticeScopedAPIMixin, viewsets.GenericViewSet):
    api_scope = "integrations"
    lookup_field = "public_id"

    @property
    def membership(self) -> Any:
        return self.request.membership

    def parse(self, serializer_class: type, data: Any) -> dict[str, Any]:
        form = serializer_class(data=data)
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)


@extend_schema_view(
    list=extend_schema(responses=WebhookEndpointOut(many=True)),
    retrieve=extend_schema(responses=WebhookEndpointOut),
    create=extend_schema(
        request=WebhookEndpointIn,
        responses={201: WebhookEndpointSecretOut},
        description="Register an endpoint. The answer carries its signing secret: the only time it is shown.",
    ),
    partial_update=extend_schema(
        request=WebhookEndpointPatchIn,
        responses={200: WebhookEndpointOut, 409: CONFLICT},
        description="Change the URL, description or events; is_active switches it off or on (on resets "
        "the failure count and resumes waiting deliveries).",
    ),
    rotate_secret=extend_schema(
        request=None,
        responses=WebhookEndpointSecretOut,
        description="A new signing secret, returned once; the old one stops verifying at once.",
    ),
)
class WebhookEndpointViewSet(_IntegrationsViewSet):
    """The practice's webhook endpoints (never their secrets on a read)."""

    exposes_model = WebhookEndpoint
    serializer_class = WebhookEndpointOut
    required_perm = Perm.INTEGRATIONS_MANAGE

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.all_objects.none()
        return WebhookEndpoint.objects.order_by("created_at", "pk")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(WebhookEndpointIn, request.data)
        endpoint, secret = services.webhook_endpoint_create(
            by=self.membership, url=data["url"], events=data["events"], description=data["description"]
        )
        body = WebhookEndpointSecretOut(endpoint, context={"secret": secret}).data
        return Response(body, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        data = self.parse(WebhookEndpointPatchIn, request.data)
        if {"url", "description", "events"} & data.keys():
            endpoint = services.webhook_endpoint_update(
                endpoint=endpoint,
                by=self.membership,
                url=data.get("url", endpoint.url),
                events=data.get("events", endpoint.events),
                description=data.get("description", endpoint.description),
            )
        if "is_active" in data:
            endpoint = services.webhook_endpoint_set_active(
                endpoint=endpoint, by=self.membership, is_active=data["is_active"]
            )
        return Response(WebhookEndpointOut(endpoint).data)

    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint, secret = services.webhook_endpoint_rotate_secret(endpoint=self.get_object(), by=self.membership)
        return Response(WebhookEndpointSecretOut(endpoint, context={"secret": secret}).data)


@extend_schema_view(
    list=extend_schema(parameters=[WebhookDeliveryFilterIn], responses=WebhookDeliveryOut(many=True)),
    retrieve=extend_schema(responses=WebhookDeliveryDetailOut),
    resend=extend_schema(
        request=None,
        responses={200: WebhookDeliveryOut, 409: CONFLICT},
        description="Send a failed delivery once more, now (same event id and body). 409 unless it "
        "failed and its endpoint is on.",
    ),
)
class WebhookDeliveryViewSet(_IntegrationsViewSet):
    """The delivery log, newest first (the payload and the reply only on a single delivery)."""

    exposes_model = WebhookDelivery
    serializer_class = WebhookDeliveryOut
    required_perm = Perm.INTEGRATIONS_MANAGE

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.all_objects.none()
        return WebhookDelivery.objects.select_related("endpoint").order_by("-created_at", "-pk")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.parse(WebhookDeliveryFilterIn, request.query_params.dict())
        queryset = self.get_queryset().defer("payload", "response_body")
        if filters.get("endpoint"):
            endpoint = WebhookEndpoint.objects.filter(public_id=filters["endpoint"]).first()
            if endpoint is None:
                raise NotFound("No such webhook endpoint.")
            queryset = queryset.filter(endpoint=endpoint)
        if filters.get("status"):
            queryset = queryset.filter(status=filters["status"])
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliveryOut(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(WebhookDeliveryDetailOut(self.get_object()).data)

    @action(detail=True, methods=["post"])
    def resend(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        delivery = services.webhook_delivery_resend(delivery=self.get_object(), by=self.membership)
        return Response(WebhookDeliveryOut(delivery).data)


@extend_schema_view(
    list=extend_schema(responses=ImportJobOut(many=True)),
    retrieve=extend_schema(responses=ImportJobOut),
)
class ImportJobViewSet(_IntegrationsViewSet):
    """CSV import jobs: status, progress, counts and row errors (never the uploaded CSV)."""

    exposes_model = ImportJob
    serializer_class = ImportJobOut
    required_perm = Perm.DATA_IMPORT

    def get_queryset(self) -> QuerySet[ImportJob]:
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.all_objects.none()
        return ImportJob.objects.defer("content").order_by("-created_at", "-pk")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)


@extend_schema_view(
    list=extend_schema(responses=ExportJobOut(many=True)),
    retrieve=extend_schema(
        responses=ExportJobOut,
        description="Status, size and row counts. The archive itself is not served by the API: an owner "
        "downloads it once from Settings → Data export.",
    ),
)
class ExportJobViewSet(_IntegrationsViewSet):
    """Full-practice export jobs (metadata only; no download through the API)."""

    exposes_model = ExportJob
    serializer_class = ExportJobOut
    required_perm = Perm.DATA_EXPORT

    def get_queryset(self) -> QuerySet[ExportJob]:
        if getattr(self, "swagger_fake_view", False):
            return ExportJob.all_objects.none()
        return ExportJob.objects.order_by("-created_at", "-pk")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)
