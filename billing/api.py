"""REST API of billing (/api/v1/): payers, fee schedules, coverage, authorizations, charges,
claims, remittances (835 upload), denials, patient payments, balances, statements, A/R summary.

Same rules as the pages: the same permissions (BILLING_VIEW to read the revenue cycle,
BILLING_MANAGE to act on it, BILLING_SETUP for payers, COVERAGE_MANAGE for coverage and patient
money, AR_VIEW_DASHBOARD for the metrics); every read of patient billing data writes an access
event; writes go through the billing services, whose DomainError becomes the API's error shape
(400 with a field, else 409). Money is a two-decimal string everywhere.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from billing import api_serializers as s
from billing import metrics, services_claims, services_denials, services_patient_billing, services_setup
from billing import selectors_patient_billing as patient_billing
from billing.forms_files import MAX_UPLOAD_BYTES
from billing.models import (
    Charge,
    Claim,
    ClaimEvent,
    ClaimLine,
    Coverage,
    DenialCase,
    DenialNote,
    FeeSchedule,
    PatientPayment,
    Payer,
    PriorAuthorization,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    ScrubFinding,
    Statement,
)
from billing.selectors_denials import OPEN_STATUSES
from billing.services_remittance import remittance_claim_dismiss, remittance_claim_match, remittance_import
from billing.services_scrub import claim_scrub
from clinical import access
from clinical.models import Patient
from practice.api_auth import AuditedReadMixin, PracticeScopedAPIMixin
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import AccessEvent, Membership
from practice.permissions import Perm

ERROR = OpenApiResponse(description="The API's error shape: {error: {status, code, message, fields}}")
RULE = OpenApiResponse(description="A billing rule said no (error shape): 409, or 400 naming the field.")


class X12Parser(parsers.BaseParser):
    """A raw X12 body (``Content-Type: application/edi-x12``); the bytes are handed on as they are."""

    media_type = "application/edi-x12"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> bytes:
        return stream.read(MAX_UPLOAD_BYTES + 1) if stream is not None else b""


class PlainTextX12Parser(X12Parser):
    media_type = "text/plain"


class _BillingViewSet(PracticeScopedAPIMixin, AuditedReadMixin, viewsets.GenericViewSet):
    lookup_field = "public_id"
    api_scope = "billing"
    # Any one of these lets a member read (used by views whose reads are shared across roles).
    read_perms: tuple[Perm, ...] = ()

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        reading = self.read_perms and self.action in ("list", "retrieve")
        if reading and not any(request.membership.has_perm(perm) for perm in self.read_perms):
            raise PermissionDenied("You do not have access to this.")

    def parse(self, serializer_class: type, data: Any, **kwargs: Any) -> dict[str, Any]:
        form = serializer_class(data=data, **kwargs)
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    def query(self, serializer_class: type) -> dict[str, Any]:
        return self.parse(serializer_class, self.request.query_params.dict())

    def visible_patients(self) -> QuerySet[Patient]:
        return access.patients_visible_to(self.membership)

    def patient_or_404(self, public_id: Any) -> Patient:
        patient = self.visible_patients().filter(public_id=public_id).first()
        if patient is None:
            raise NotFound("No such patient.")
        return patient

    def patient_for_body(self, public_id: Any) -> Patient:
        """A patient named in a request body: unknown (or another practice's) is a field error."""
        patient = self.visible_patients().filter(public_id=public_id).first()
        if patient is None:
            raise DomainError("No such patient.", field="patient")
        return patient

    def filter_patient(self, queryset: QuerySet, filters: dict[str, Any], field: str = "patient") -> tuple:
        if not filters.get("patient"):
            return queryset, None
        patient = self.patient_or_404(filters["patient"])
        return queryset.filter(**{field: patient}), patient

    def fresh(self, obj: Any) -> Any:
        """The object again through this view's queryset (with its prefetches) after a write."""
        return self.get_queryset().get(pk=obj.pk)


def _service_dates(queryset: QuerySet, filters: dict[str, Any]) -> QuerySet:
    if filters.get("service_from"):
        queryset = queryset.filter(service_date__gte=filters["service_from"])
    if filters.get("service_to"):
        queryset = queryset.filter(service_date__lte=filters["service_to"])
    return queryset


# --- Payers and fee schedules ------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(responses={200: s.PayerOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.PayerOut, 404: ERROR}),
    create=extend_schema(request=s.PayerIn, responses={201: s.PayerOut, 400: ERROR, 403: ERROR}),
    partial_update=extend_schema(request=s.PayerIn, responses={200: s.PayerOut, 400: ERROR, 404: ERROR}),
)
class PayerViewSet(_BillingViewSet):
    """Payers (insurers) of the practice with their billing rules. Readable by billing and front
    desk (coverage needs the payer id); created and changed with billing set-up rights."""

    exposes_model = Payer
    serializer_class = s.PayerOut
    read_perms = (Perm.BILLING_VIEW, Perm.BILLING_SETUP, Perm.COVERAGE_MANAGE)
    action_perms = {"create": Perm.BILLING_SETUP, "partial_update": Perm.BILLING_SETUP}

    def get_queryset(self) -> QuerySet[Payer]:
        if getattr(self, "swagger_fake_view", False):
            return Payer.all_objects.none()
        return Payer.objects.order_by("name", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.PayerIn, request.data)
        payer = services_setup.payer_save(practice=request.practice, data=data)
        return Response(s.PayerOut(payer).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payer = self.get_object()
        data = self.parse(s.PayerIn, request.data, partial=True)
        payer = services_setup.payer_save(practice=request.practice, payer=payer, data=data)
        return Response(s.PayerOut(payer).data)


@extend_schema_view(
    list=extend_schema(responses={200: s.FeeScheduleOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.FeeScheduleOut, 404: ERROR}),
)
class FeeScheduleViewSet(_BillingViewSet):
    """Fee schedules (payer contracts and self-pay) with their CPT fees. Read-only here."""

    exposes_model = FeeSchedule
    serializer_class = s.FeeScheduleOut
    read_perms = (Perm.BILLING_VIEW, Perm.BILLING_SETUP)

    def get_queryset(self) -> QuerySet[FeeSchedule]:
        if getattr(self, "swagger_fake_view", False):
            return FeeSchedule.all_objects.none()
        return FeeSchedule.objects.select_related("payer").prefetch_related("entries").order_by("name", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)


# --- Coverage and prior authorizations ---------------------------------------------------------


@extend_schema_view(
    list=extend_schema(parameters=[s.PatientFilterIn], responses={200: s.CoverageOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.CoverageOut, 404: ERROR}),
    create=extend_schema(request=s.CoverageIn, responses={201: s.CoverageOut, 400: ERROR, 403: ERROR, 409: RULE}),
    partial_update=extend_schema(
        request=s.CoverageIn, responses={200: s.CoverageOut, 400: ERROR, 404: ERROR, 409: RULE}
    ),
)
class CoverageViewSet(_BillingViewSet):
    """Insurance coverages of patients (``?patient=``). One active coverage per priority; a
    dependent's coverage needs the subscriber's details; ``is_active=false`` ends a coverage."""

    exposes_model = Coverage
    serializer_class = s.CoverageOut
    required_perm = Perm.COVERAGE_MANAGE

    def get_queryset(self) -> QuerySet[Coverage]:
        if getattr(self, "swagger_fake_view", False):
            return Coverage.all_objects.none()
        return (
            Coverage.objects.filter(patient__in=self.visible_patients().values("pk"))
            .select_related("patient", "payer")
            .order_by("patient_id", "-is_active", "priority", "-starts_on", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset, patient = self.filter_patient(self.get_queryset(), self.query(s.PatientFilterIn))
        return self.audited_list(queryset, object_type="billing.coverage", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def _fields(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = dict(data)
        fields.pop("patient", None)
        if "payer" in fields:
            payer = Payer.objects.filter(public_id=fields["payer"]).first()
            if payer is None:
                raise DomainError("No such payer.", field="payer")
            fields["payer"] = payer
        if "copay" in fields:
            fields["copay_cents"] = int((fields.pop("copay") or 0) * 100)
        return fields

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.CoverageIn, request.data)
        patient = self.patient_for_body(data["patient"])
        fields = self._fields(data)
        fields.setdefault("is_active", True)
        coverage = services_setup.coverage_save(patient=patient, data=fields, by=self.membership)
        return Response(s.CoverageOut(self.fresh(coverage)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        coverage = self.get_object()
        data = self.parse(s.CoverageIn, request.data, partial=True)
        if "patient" in data and data["patient"] != coverage.patient.public_id:
            raise DomainError("A coverage cannot move to another patient.", field="patient")
        fields = self._fields(data)
        ending = fields.get("is_active") is False and coverage.is_active
        if ending:
            fields.pop("is_active")
        if fields:
            coverage = services_setup.coverage_save(
                patient=coverage.patient, coverage=coverage, data=fields, by=self.membership
            )
        if ending:
            coverage = services_setup.coverage_deactivate(coverage=coverage, by=self.membership)
        return Response(s.CoverageOut(self.fresh(coverage)).data)


@extend_schema_view(
    list=extend_schema(parameters=[s.PatientFilterIn], responses={200: s.PriorAuthorizationOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.PriorAuthorizationOut, 404: ERROR}),
)
class PriorAuthorizationViewSet(_BillingViewSet):
    """Prior authorizations on file (``?patient=``). Read-only here."""

    exposes_model = PriorAuthorization
    serializer_class = s.PriorAuthorizationOut
    required_perm = Perm.COVERAGE_MANAGE

    def get_queryset(self) -> QuerySet[PriorAuthorization]:
        if getattr(self, "swagger_fake_view", False):
            return PriorAuthorization.all_objects.none()
        return (
            PriorAuthorization.objects.filter(patient__in=self.visible_patients().values("pk"))
            .select_related("patient", "coverage")
            .order_by("-ends_on", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset, patient = self.filter_patient(self.get_queryset(), self.query(s.PatientFilterIn))
        return self.audited_list(queryset, object_type="billing.priorauthorization", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()


# --- Charges and claims ------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(parameters=[s.ChargeFilterIn], responses={200: s.ChargeOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.ChargeOut, 404: ERROR}),
)
class ChargeViewSet(_BillingViewSet):
    """Charges (billable services from signed notes, assessments and appointment fees), newest
    first; filter by patient, status, kind and date of service."""

    exposes_model = Charge
    serializer_class = s.ChargeOut
    required_perm = Perm.BILLING_VIEW

    def get_queryset(self) -> QuerySet[Charge]:
        if getattr(self, "swagger_fake_view", False):
            return Charge.all_objects.none()
        return Charge.objects.select_related("patient", "coverage", "rendering").order_by("-service_date", "-id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.ChargeFilterIn)
        queryset, patient = self.filter_patient(self.get_queryset(), filters)
        queryset = _service_dates(queryset, filters)
        for key in ("status", "kind"):
            if filters.get(key):
                queryset = queryset.filter(**{key: filters[key]})
        return self.audited_list(queryset, object_type="billing.charge", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()


CLAIM_ORDER_FIELDS = {"service_date": "service_date", "status_changed_at": "status_changed_at", "total": "total_cents"}
CLAIM_ACTION_RESPONSES = {200: s.ClaimDetailOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: RULE}


@extend_schema_view(
    list=extend_schema(parameters=[s.ClaimFilterIn], responses={200: s.ClaimOut(many=True), 400: ERROR, 403: ERROR}),
    retrieve=extend_schema(responses={200: s.ClaimDetailOut, 404: ERROR}),
    scrub=extend_schema(request=None, responses=CLAIM_ACTION_RESPONSES),
    mark_ready=extend_schema(request=None, responses=CLAIM_ACTION_RESPONSES),
    transition=extend_schema(request=s.ClaimTransitionIn, responses=CLAIM_ACTION_RESPONSES),
    void=extend_schema(
        request=s.ClaimVoidIn,
        responses={**CLAIM_ACTION_RESPONSES, 201: s.ClaimDetailOut},
        description="Never sent (draft, ready, rejected): the claim is voided (200). At the payer: a "
        "frequency-8 void claim carrying the payer's claim number is created (201) and the original "
        "becomes void when the payer accepts it.",
    ),
)
class ClaimViewSet(_BillingViewSet):
    """Claims: the queue (filter by status, payer, patient, rendering clinician, date of service;
    ``?ordering=``), one claim with its lines, scrub findings and history, and the biller's
    actions. Every status change goes through the claim lifecycle and is kept in ``events``."""

    exposes_model = Claim
    serializer_class = s.ClaimOut
    action_perms = {
        "list": Perm.BILLING_VIEW,
        "retrieve": Perm.BILLING_VIEW,
        "scrub": Perm.BILLING_MANAGE,
        "mark_ready": Perm.BILLING_MANAGE,
        "transition": Perm.BILLING_MANAGE,
        "void": Perm.BILLING_MANAGE,
    }

    def get_serializer_class(self) -> type:
        return s.ClaimOut if self.action == "list" else s.ClaimDetailOut

    def get_queryset(self) -> QuerySet[Claim]:
        if getattr(self, "swagger_fake_view", False):
            return Claim.all_objects.none()
        queryset = Claim.objects.select_related("patient", "payer", "coverage", "rendering", "original")
        if self.action == "list":
            return queryset
        return queryset.prefetch_related(
            Prefetch("lines", queryset=ClaimLine.objects.select_related("charge").order_by("line_number")),
            Prefetch("findings", queryset=ScrubFinding.objects.select_related("line").order_by("severity", "id")),
            Prefetch("events", queryset=ClaimEvent.objects.select_related("by").order_by("created_at", "id")),
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.ClaimFilterIn)
        queryset, patient = self.filter_patient(self.get_queryset(), filters)
        queryset = _service_dates(queryset, filters)
        if filters.get("status"):
            queryset = queryset.filter(status=filters["status"])
        if filters.get("payer"):
            queryset = queryset.filter(payer__public_id=filters["payer"])
        if filters.get("clinician"):
            queryset = queryset.filter(rendering__public_id=filters["clinician"])
        ordering = filters["ordering"]
        field = CLAIM_ORDER_FIELDS.get(ordering.lstrip("-"), ordering.lstrip("-"))
        sign = "-" if ordering.startswith("-") else ""
        queryset = queryset.order_by(f"{sign}{field}", f"{sign}id")
        return self.audited_list(queryset, object_type="billing.claim", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def _out(self, claim: Claim, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.ClaimDetailOut(self.fresh(claim)).data, status=code)

    @action(detail=True, methods=["post"])
    def scrub(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Run the scrubbing rules now; the findings replace the last scrub's."""
        claim = self.get_object()
        claim_scrub(claim=claim, by=self.membership)
        return self._out(claim)

    @action(detail=True, methods=["post"], url_path="mark-ready")
    def mark_ready(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Scrub, then draft -> ready only when no error is left (409 ``scrub_errors`` listing
        them otherwise; the findings are kept)."""
        claim = services_claims.claim_mark_ready(claim=self.get_object(), by=self.membership)
        return self._out(claim)

    @action(detail=True, methods=["post"])
    def transition(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Move the claim to another status the lifecycle allows, with the reason (``note``)."""
        claim = self.get_object()
        data = self.parse(s.ClaimTransitionIn, request.data)
        claim = services_claims.claim_transition(claim=claim, to=data["status"], by=self.membership, note=data["note"])
        return self._out(claim)

    @action(detail=True, methods=["post"])
    def void(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        claim = self.get_object()
        data = self.parse(s.ClaimVoidIn, request.data)
        result = services_claims.claim_void(
            claim=claim, by=self.membership, payer_claim_number=data["payer_claim_number"], note=data["note"]
        )
        return self._out(result, status.HTTP_200_OK if result.pk == claim.pk else status.HTTP_201_CREATED)


# --- Remittances -------------------------------------------------------------------------------


def _remit_lines() -> Prefetch:
    return Prefetch("lines", queryset=RemittanceLine.objects.order_by("id"))


IMPORT_EXAMPLE_REJECTED = OpenApiExample(
    "Rejected 835",
    status_codes=["400"],
    response_only=True,
    value={
        "error": {
            "status": 400,
            "code": "rejected",
            "message": "The 835 was rejected; nothing was posted: segment 12 (CLP): ...",
            "fields": {"file": ["segment 12 (CLP): ..."]},
            "remittance": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        }
    },
)


@extend_schema_view(
    list=extend_schema(parameters=[s.RemittanceFilterIn], responses={200: s.RemittanceOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.RemittanceDetailOut, 404: ERROR}),
    create=extend_schema(
        request={
            "multipart/form-data": s.RemittanceUploadIn,
            "application/edi-x12": OpenApiTypes.BINARY,
            "text/plain": OpenApiTypes.STR,
        },
        responses={
            201: OpenApiResponse(s.RemittanceImportOut, description="Posted."),
            200: OpenApiResponse(s.RemittanceImportOut, description="Already posted (same payer and trace)."),
            400: OpenApiResponse(
                description="Not an X12 file, or rejected whole (malformed or unbalanced) with the segment and "
                "reason; nothing posted.",
            ),
            403: ERROR,
        },
        examples=[IMPORT_EXAMPLE_REJECTED],
        description="Upload an 835: multipart ``file``, or the raw X12 as the body. The whole file posts in one "
        "transaction or is rejected whole.",
    ),
)
class RemittanceViewSet(_BillingViewSet):
    """835 remittances: posted and rejected ones, each with its claims (matched or not), lines,
    CAS adjustments, remarks and provider-level adjustments; and the 835 upload."""

    exposes_model = Remittance
    serializer_class = s.RemittanceOut
    parser_classes = [parsers.MultiPartParser, X12Parser, PlainTextX12Parser]
    action_perms = {"list": Perm.BILLING_VIEW, "retrieve": Perm.BILLING_VIEW, "create": Perm.BILLING_MANAGE}

    def get_serializer_class(self) -> type:
        return s.RemittanceOut if self.action == "list" else s.RemittanceDetailOut

    def get_queryset(self) -> QuerySet[Remittance]:
        if getattr(self, "swagger_fake_view", False):
            return Remittance.all_objects.none()
        queryset = Remittance.objects.select_related("payer").order_by("-created_at", "-id")
        if self.action == "list":
            return queryset
        claims = RemittanceClaim.objects.select_related("remittance", "claim").prefetch_related(_remit_lines())
        return queryset.prefetch_related(Prefetch("claims", queryset=claims.order_by("id")), "provider_adjustments")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.RemittanceFilterIn)
        queryset = self.get_queryset()
        if filters.get("status"):
            queryset = queryset.filter(status=filters["status"])
        if filters.get("payer"):
            queryset = queryset.filter(payer__public_id=filters["payer"])
        return self.audited_list(queryset, object_type="billing.remittance")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def _content(self, request: Request) -> tuple[bytes, str]:
        if isinstance(request.data, bytes):
            return request.data, "api-upload.835"
        upload = request.data.get("file") if hasattr(request.data, "get") else None
        if upload is None or not hasattr(upload, "read"):
            raise DomainError("Send the 835 as a multipart file or as the raw body.", field="file")
        if upload.size > MAX_UPLOAD_BYTES:
            raise DomainError("The file is larger than 20 MB.", field="file")
        return upload.read(), upload.name[:200]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        content, filename = self._content(request)
        if len(content) > MAX_UPLOAD_BYTES:
            raise DomainError("The file is larger than 20 MB.", field="file")
        if not content.lstrip().startswith(b"ISA"):
            raise DomainError("This is not an X12 file: it must start with an ISA segment.", field="file")
        result = remittance_import(practice=request.practice, content=content, filename=filename, by=self.membership)
        if result.rejected:
            message = f"The 835 was rejected; nothing was posted: {result.error}"
            body = {
                "error": {
                    "status": 400,
                    "code": "rejected",
                    "message": message,
                    "fields": {"file": [result.error]},
                    "remittance": str(result.remittance.public_id) if result.remittance else None,
                }
            }
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        summary = result.summary()
        remittances = list(self.get_queryset().filter(pk__in=[r.pk for r in result.remittances]))
        body = {
            "status": "duplicate" if result.duplicate else "posted",
            "remittances": remittances,
            "claims_matched": summary["claims_matched"],
            "unmatched": summary["unmatched"],
            "total_paid": summary["total_paid"],
        }
        code = status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED
        return Response(s.RemittanceImportOut(body).data, status=code)


@extend_schema_view(
    list=extend_schema(
        parameters=[s.RemittanceClaimFilterIn], responses={200: s.RemittanceClaimOut(many=True), 403: ERROR}
    ),
    retrieve=extend_schema(responses={200: s.RemittanceClaimOut, 404: ERROR}),
    match=extend_schema(
        request=s.RemittanceMatchIn, responses={200: s.RemittanceClaimOut, 400: ERROR, 404: ERROR, 409: RULE}
    ),
    dismiss=extend_schema(request=None, responses={200: s.RemittanceClaimOut, 404: ERROR, 409: RULE}),
)
class RemittanceClaimViewSet(_BillingViewSet):
    """The claims (CLP loops) of posted 835s; ``?unmatched=true`` is the work queue of claims no
    control number matched, to match by hand (then posted) or dismiss."""

    exposes_model = RemittanceClaim
    serializer_class = s.RemittanceClaimOut
    action_perms = {
        "list": Perm.BILLING_VIEW,
        "retrieve": Perm.BILLING_VIEW,
        "match": Perm.BILLING_MANAGE,
        "dismiss": Perm.BILLING_MANAGE,
    }

    def get_queryset(self) -> QuerySet[RemittanceClaim]:
        if getattr(self, "swagger_fake_view", False):
            return RemittanceClaim.all_objects.none()
        return (
            RemittanceClaim.objects.select_related("remittance", "claim")
            .prefetch_related(_remit_lines())
            .order_by("-remittance__created_at", "id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.RemittanceClaimFilterIn)
        queryset = self.get_queryset()
        if filters["unmatched"]:
            queryset = queryset.filter(is_matched=False, resolved_at__isnull=True)
        if filters.get("remittance"):
            queryset = queryset.filter(remittance__public_id=filters["remittance"])
        return self.audited_list(queryset, object_type="billing.remittanceclaim")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    @action(detail=True, methods=["post"])
    def match(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rc = self.get_object()
        data = self.parse(s.RemittanceMatchIn, request.data)
        rc = remittance_claim_match(remittance_claim=rc, control_number=data["control_number"], by=self.membership)
        return Response(s.RemittanceClaimOut(self.fresh(rc)).data)

    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rc = remittance_claim_dismiss(remittance_claim=self.get_object(), by=self.membership)
        return Response(s.RemittanceClaimOut(self.fresh(rc)).data)


# --- Denials -----------------------------------------------------------------------------------

DENIAL_ACTION_RESPONSES = {200: s.DenialDetailOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: RULE}


@extend_schema_view(
    list=extend_schema(parameters=[s.DenialFilterIn], responses={200: s.DenialOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.DenialDetailOut, 404: ERROR}),
    assign=extend_schema(request=s.DenialAssignIn, responses=DENIAL_ACTION_RESPONSES),
    note=extend_schema(request=s.DenialNoteIn, responses=DENIAL_ACTION_RESPONSES),
    appeal=extend_schema(request=s.DenialNoteIn, responses=DENIAL_ACTION_RESPONSES),
    write_off=extend_schema(request=s.DenialWriteOffIn, responses=DENIAL_ACTION_RESPONSES),
    resolve=extend_schema(request=s.DenialNoteIn, responses=DENIAL_ACTION_RESPONSES),
    resubmit=extend_schema(
        request=s.DenialResubmitIn,
        responses={201: s.DenialResubmitOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: RULE},
    ),
)
class DenialViewSet(_BillingViewSet):
    """Denied claims being worked (open ones by default; ``?status=all`` or one status): assign,
    note, appeal, resubmit as a corrected claim, write off, resolve. Each action is noted."""

    exposes_model = DenialCase
    serializer_class = s.DenialOut
    action_perms = {
        "list": Perm.BILLING_VIEW,
        "retrieve": Perm.BILLING_VIEW,
        "assign": Perm.BILLING_MANAGE,
        "note": Perm.BILLING_MANAGE,
        "appeal": Perm.BILLING_MANAGE,
        "write_off": Perm.BILLING_MANAGE,
        "resolve": Perm.BILLING_MANAGE,
        "resubmit": Perm.BILLING_MANAGE,
    }

    def get_serializer_class(self) -> type:
        return s.DenialOut if self.action == "list" else s.DenialDetailOut

    def get_queryset(self) -> QuerySet[DenialCase]:
        if getattr(self, "swagger_fake_view", False):
            return DenialCase.all_objects.none()
        queryset = DenialCase.objects.select_related(
            "claim__patient", "claim__payer", "assigned_to", "remittance_claim"
        ).order_by("created_at", "id")
        if self.action == "list":
            return queryset
        return queryset.prefetch_related(
            Prefetch("notes", queryset=DenialNote.objects.select_related("author").order_by("created_at", "id"))
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.DenialFilterIn)
        queryset = self.get_queryset()
        if filters["status"] == "open":
            queryset = queryset.filter(status__in=OPEN_STATUSES)
        elif filters["status"] != "all":
            queryset = queryset.filter(status=filters["status"])
        if filters.get("payer"):
            queryset = queryset.filter(claim__payer__public_id=filters["payer"])
        if filters.get("assignee"):
            queryset = queryset.filter(assigned_to__public_id=filters["assignee"])
        return self.audited_list(queryset, object_type="billing.denialcase")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def _out(self, case: DenialCase) -> Response:
        return Response(s.DenialDetailOut(self.fresh(case)).data)

    @action(detail=True, methods=["post"])
    def assign(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_object()
        data = self.parse(s.DenialAssignIn, request.data)
        assignee = None
        if data["assignee"] is not None:
            assignee = Membership.objects.filter(public_id=data["assignee"]).select_related("user").first()
            if assignee is None:
                raise DomainError("Assign the denial to an active billing team member.", field="assignee")
        services_denials.denial_assign(case=case, by=self.membership, assignee=assignee)
        return self._out(case)

    @action(detail=True, methods=["post"])
    def note(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_object()
        data = self.parse(s.DenialNoteIn, request.data)
        services_denials.denial_add_note(case=case, by=self.membership, text=data["text"])
        return self._out(case)

    @action(detail=True, methods=["post"])
    def appeal(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Mark the denial and its claim appealed (the letter is on the denial's page)."""
        case = self.get_object()
        data = self.parse(s.DenialNoteIn, request.data)
        services_denials.denial_appeal(case=case, by=self.membership, note=data["text"])
        return self._out(case)

    @action(detail=True, methods=["post"], url_path="write-off")
    def write_off(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_object()
        data = self.parse(s.DenialWriteOffIn, request.data)
        services_denials.denial_write_off(
            case=case, by=self.membership, reason=data["reason"], amount=data.get("amount")
        )
        return self._out(case)

    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_object()
        data = self.parse(s.DenialNoteIn, request.data)
        services_denials.denial_resolve(case=case, by=self.membership, note=data["text"])
        return self._out(case)

    @action(detail=True, methods=["post"])
    def resubmit(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A corrected (frequency 7) draft claim carrying the payer's claim number; the denial
        becomes ``resubmitted``."""
        case = self.get_object()
        data = self.parse(s.DenialResubmitIn, request.data)
        copy = services_denials.denial_correct(
            case=case, by=self.membership, payer_claim_number=data["payer_claim_number"]
        )
        claim = Claim.objects.select_related("patient", "payer", "coverage", "rendering", "original").get(pk=copy.pk)
        body = {"denial": self.fresh(case), "corrected_claim": claim}
        return Response(s.DenialResubmitOut(body).data, status=status.HTTP_201_CREATED)


# --- Patient payments, balances, statements ----------------------------------------------------


@extend_schema_view(
    list=extend_schema(parameters=[s.PaymentFilterIn], responses={200: s.PaymentOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.PaymentOut, 404: ERROR}),
    create=extend_schema(request=s.PaymentIn, responses={201: s.PaymentOut, 400: ERROR, 403: ERROR, 409: RULE}),
)
class PaymentViewSet(_BillingViewSet):
    """Money received from patients (and refunds), with how each payment was allocated to their
    charges. Recording one allocates it oldest charge first unless ``charges`` are named; the
    rest is held as the patient's credit. Tend processes no cards: this records a payment."""

    exposes_model = PatientPayment
    serializer_class = s.PaymentOut
    required_perm = Perm.COVERAGE_MANAGE

    def get_queryset(self) -> QuerySet[PatientPayment]:
        if getattr(self, "swagger_fake_view", False):
            return PatientPayment.all_objects.none()
        return (
            PatientPayment.objects.filter(patient__in=self.visible_patients().values("pk"))
            .select_related("patient", "appointment")
            .prefetch_related("allocations__charge")
            .order_by("-received_on", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.PaymentFilterIn)
        queryset, patient = self.filter_patient(self.get_queryset(), filters)
        if filters.get("received_from"):
            queryset = queryset.filter(received_on__gte=filters["received_from"])
        if filters.get("received_to"):
            queryset = queryset.filter(received_on__lte=filters["received_to"])
        return self.audited_list(queryset, object_type="billing.patientpayment", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.PaymentIn, request.data)
        patient = self.patient_for_body(data["patient"])
        charges = None
        if data.get("charges"):
            wanted = list(dict.fromkeys(data["charges"]))
            found = {c.public_id: c for c in Charge.objects.filter(patient=patient, public_id__in=wanted)}
            if len(found) != len(wanted):
                raise DomainError("A chosen charge is not one of this patient's.", field="charges")
            charges = [found[pid] for pid in wanted]
        payment = services_patient_billing.payment_record(
            patient=patient,
            amount=data["amount"],
            method=data["method"],
            by=self.membership,
            reference=data["reference"],
            received_on=data["received_on"],
            charges=charges,
            note=data["note"],
        )
        return Response(s.PaymentOut(self.fresh(payment)).data, status=status.HTTP_201_CREATED)


@extend_schema_view(retrieve=extend_schema(responses={200: s.BalanceOut, 404: ERROR}))
class PatientBalanceViewSet(_BillingViewSet):
    """One patient's balance from the ledger: what they owe, credit held, what insurance still
    owes, and the charges with something owing (oldest first)."""

    exposes_model = Patient
    serializer_class = s.BalanceOut
    required_perm = Perm.COVERAGE_MANAGE

    def get_queryset(self) -> QuerySet[Patient]:
        if getattr(self, "swagger_fake_view", False):
            return Patient.all_objects.none()
        return self.visible_patients()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.get_object()
        access_record(
            request=request._request,
            action=AccessEvent.Action.VIEW,
            object_type="billing.patient_balance",
            object_id=str(patient.public_id),
            patient_id=patient.public_id,
        )
        body = {
            "patient": patient.public_id,
            "balance": patient_billing.patient_balance(patient=patient),
            "credit_available": patient_billing.patient_credit_available(patient=patient),
            "insurance_pending": patient_billing.insurance_pending(patient=patient),
            "open_charges": [
                {
                    "charge": charge.public_id,
                    "service_date": charge.service_date,
                    "cpt": charge.cpt,
                    "description": charge.description,
                    "outstanding": due,
                }
                for charge, due in patient_billing.open_patient_charges(patient=patient)
            ],
        }
        return Response(s.BalanceOut(body).data)


@extend_schema_view(
    list=extend_schema(parameters=[s.PatientFilterIn], responses={200: s.StatementOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.StatementOut, 404: ERROR}),
)
class StatementViewSet(_BillingViewSet):
    """Patient statements as issued (amounts frozen at issue time), newest first. The PDF is on
    the patient's balance page."""

    exposes_model = Statement
    serializer_class = s.StatementOut
    required_perm = Perm.COVERAGE_MANAGE

    def get_queryset(self) -> QuerySet[Statement]:
        if getattr(self, "swagger_fake_view", False):
            return Statement.all_objects.none()
        return (
            Statement.objects.filter(patient__in=self.visible_patients().values("pk"))
            .select_related("patient")
            .order_by("-issued_on", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset, patient = self.filter_patient(self.get_queryset(), self.query(s.PatientFilterIn))
        return self.audited_list(queryset, object_type="billing.statement", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()


# --- A/R summary -------------------------------------------------------------------------------


def _aging_row(row: metrics.AgingRow, payer_ids: dict[Any, Any]) -> dict[str, Any]:
    return {
        "label": row.label,
        "payer": payer_ids.get(row.key),
        "buckets": dict(row.buckets),
        "total": row.total,
    }


class ARSummaryViewSet(_BillingViewSet):
    """The A/R dashboard's numbers (billing.md §6): A/R totals, days in A/R, aging by payer and
    for patients (no patient names), denial, first-pass, clean-claim and net collection rates,
    twelve months of charges/payments/adjustments, and the breakdown by payer and clinician."""

    exposes_model = None  # practice-wide aggregates, no object id
    serializer_class = s.ARSummaryOut
    required_perm = Perm.AR_VIEW_DASHBOARD

    @extend_schema(parameters=[s.ARSummaryFilterIn], responses={200: s.ARSummaryOut, 400: ERROR, 403: ERROR})
    def summary(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.ARSummaryFilterIn)
        today = timezone.localdate()
        as_of: date = min(filters.get("as_of") or today, today)
        start = as_of - timedelta(days=int(filters["period"]) - 1)
        aging = metrics.aging(as_of=as_of, top_patients=0)
        totals = metrics.ar_totals(as_of=as_of)
        payer_ids = dict(
            Payer.objects.filter(pk__in=[r.key for r in aging.by_payer if r.key]).values_list("pk", "public_id")
        )
        ncr = metrics.net_collection_rate(as_of=as_of)
        body = {
            "as_of": as_of,
            "period_start": start,
            "period_end": as_of,
            "insurance_ar": totals.insurance,
            "patient_ar": totals.patient,
            "total_ar": totals.total,
            "days_in_ar": metrics.days_in_ar(as_of=as_of),
            "ar_over_90_percent": aging.over_90_percent,
            "denial_rate": metrics.denial_rate(start=start, end=as_of),
            "first_pass_resolution_rate": metrics.first_pass_resolution_rate(start=start, end=as_of),
            "clean_claim_rate": metrics.clean_claim_rate(start=start, end=as_of),
            "net_collection_rate": ncr,
            "aging_by_payer": [_aging_row(row, payer_ids) for row in aging.by_payer],
            "aging_patient": _aging_row(aging.patient, {}),
            "aging_total": _aging_row(aging.total, {}),
            "months": metrics.monthly(as_of=as_of),
            "by_payer": metrics.by_payer(start=start, end=as_of, as_of=as_of),
            "by_clinician": metrics.by_clinician(start=start, end=as_of, as_of=as_of),
        }
        return Response(s.ARSummaryOut(body).data)
