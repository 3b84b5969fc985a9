"""REST API of assessments (/api/v1/): instruments, protocols, assignments, administrations,
scored responses and risk alerts.

Same rules as the pages: the caseload (clinical.access) decides whose assignments,
administrations, responses and alerts a caller sees; every read of responses and alerts writes a
PHI access event; writes go through the services (a response is scored by `response_record`, the
same path as the link, the clinician and the paper form). Instruments are library data, not rows.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from assessments import selectors_alerts, services_alerts, services_delivery
from assessments import serializers as s
from assessments.library import INSTRUMENTS, instrument_or_none, to_json
from assessments.models import Administration, Protocol, ProtocolAssignment, RiskAlert
from assessments.models import Response as AssessmentResponse
from assessments.services import response_record
from clinical import access
from clinical.models import Patient
from practice.api_auth import AuditedReadMixin, PracticeScopedAPIMixin
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import AccessEvent, Membership
from practice.permissions import Perm

ERROR = OpenApiResponse(description="The API's error shape: {error: {status, code, message, fields}}")


class _AssessmentViewSet(PracticeScopedAPIMixin, AuditedReadMixin, viewsets.GenericViewSet):
    api_scope = "assessments"
    lookup_field = "public_id"

    def parse(self, serializer_class: type, data: Any) -> dict[str, Any]:
        form = serializer_class(data=data)
        form.is_valid(raise_exception=True)
        return dict(form.validated_data)

    def query(self, serializer_class: type) -> dict[str, Any]:
        return self.parse(serializer_class, self.request.query_params.dict())

    def clinical_patients(self) -> QuerySet[Patient]:
        return access.patients_with_clinical_access(self.membership)

    def patient_or_404(self, public_id: Any) -> Patient:
        """A patient whose clinical record the caller may read (else 404, as if absent)."""
        patient = self.clinical_patients().filter(public_id=public_id).first()
        if patient is None:
            raise NotFound("No such patient.")
        return patient


# --- Instruments -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(responses={200: s.InstrumentSummaryOut(many=True), 401: ERROR, 403: ERROR}),
    retrieve=extend_schema(
        parameters=[OpenApiParameter("code", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. PHQ-9")],
        responses={200: s.InstrumentOut, 401: ERROR, 403: ERROR, 404: ERROR},
    ),
)
class InstrumentViewSet(_AssessmentViewSet):
    """The instrument library: items, options with scored values and LOINC answer codes, severity
    bands, cut-offs, LOINC panel and total codes, licence and version."""

    exposes_model = None  # library data, the same for every practice
    serializer_class = s.InstrumentOut
    required_perm = Perm.ASSESSMENT_VIEW_RESULTS
    lookup_field = "code"

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = [
            {
                "code": i.code,
                "name": i.name,
                "version": i.version,
                "item_count": i.item_count,
                "has_total": i.has_total,
                "loinc_panel": i.loinc_panel,
                "loinc_total": i.loinc_total,
                "licence": i.licence,
                "billable_cpt": i.billable_cpt,
            }
            for i in INSTRUMENTS.values()
        ]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(s.InstrumentSummaryOut(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, code: str = "", **kwargs: Any) -> Response:
        instrument = instrument_or_none(code)
        if instrument is None:
            raise NotFound("No such instrument.")
        return Response(s.InstrumentOut(to_json(instrument)).data)


# --- Protocols ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(responses={200: s.ProtocolOut(many=True), 401: ERROR, 403: ERROR}),
    retrieve=extend_schema(responses={200: s.ProtocolOut, 404: ERROR}),
    create=extend_schema(request=s.ProtocolIn, responses={201: s.ProtocolOut, 400: ERROR, 403: ERROR}),
    partial_update=extend_schema(request=s.ProtocolIn, responses={200: s.ProtocolOut, 400: ERROR, 404: ERROR}),
)
class ProtocolViewSet(_AssessmentViewSet):
    """Measurement protocols: which instruments, for which patients, when and how. Readable by
    clinical staff and protocol managers; changed by owners, admins and supervisors."""

    exposes_model = Protocol
    serializer_class = s.ProtocolOut
    action_perms = {
        "create": Perm.ASSESSMENT_MANAGE_PROTOCOLS,
        "partial_update": Perm.ASSESSMENT_MANAGE_PROTOCOLS,
    }

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        if self.action in ("list", "retrieve"):
            membership = request.membership
            if not (
                membership.has_perm(Perm.ASSESSMENT_VIEW_RESULTS)
                or membership.has_perm(Perm.ASSESSMENT_MANAGE_PROTOCOLS)
            ):
                raise PermissionDenied("You do not have access to this.")

    def get_queryset(self) -> QuerySet[Protocol]:
        if getattr(self, "swagger_fake_view", False):
            return Protocol.all_objects.none()
        return Protocol.objects.select_related("created_by").prefetch_related("clinicians").order_by("name", "id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def _fields(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = dict(data)
        if "clinicians" in fields:
            ids = set(fields["clinicians"])
            clinicians = list(Membership.objects.filter(public_id__in=ids, is_active=True))
            if len(clinicians) != len(ids):
                raise NotFound("No such clinician.")
            fields["clinicians"] = clinicians
        return fields

    def _out(self, protocol: Protocol, *, code: int = status.HTTP_200_OK) -> Response:
        return Response(s.ProtocolOut(self.get_queryset().get(pk=protocol.pk)).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        fields = self._fields(self.parse(s.ProtocolIn, request.data))
        fields.pop("is_active", None)  # a new protocol is in force
        protocol = services_delivery.protocol_create(by=self.membership, **fields)
        return self._out(protocol, code=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        protocol = self.get_object()
        form = s.ProtocolIn(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        changes = self._fields(form.validated_data)
        is_active = changes.pop("is_active", None)
        if is_active and not protocol.is_active:
            raise DomainError("A switched-off protocol stays off; create a new one.", field="is_active")
        if changes:
            current = {
                "name": protocol.name,
                "instrument_codes": protocol.instrument_codes,
                "audience": protocol.audience,
                "diagnosis_prefixes": protocol.diagnosis_prefixes,
                "clinicians": list(protocol.clinicians.all()),
                "at_intake": protocol.at_intake,
                "every_n_sessions": protocol.every_n_sessions,
                "every_n_weeks": protocol.every_n_weeks,
                "channel": protocol.channel,
                "auto_assign": protocol.auto_assign,
            }
            protocol = services_delivery.protocol_update(protocol=protocol, by=self.membership, **(current | changes))
        if is_active is False and protocol.is_active:
            services_delivery.protocol_deactivate(protocol=protocol, by=self.membership)
        return self._out(protocol)


# --- Assignments -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(parameters=[s.AssignmentFilterIn], responses={200: s.AssignmentOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.AssignmentOut, 404: ERROR}),
    create=extend_schema(request=s.AssignmentIn, responses={201: s.AssignmentOut, 400: ERROR, 404: ERROR}),
    end=extend_schema(request=None, responses={200: s.AssignmentOut, 404: ERROR, 409: ERROR}),
)
class AssignmentViewSet(_AssessmentViewSet):
    """Protocols in force for patients of the caller's caseload. Assigning schedules the
    administrations; ending cancels what it scheduled and had not sent."""

    exposes_model = ProtocolAssignment
    serializer_class = s.AssignmentOut
    action_perms = {
        "list": Perm.ASSESSMENT_VIEW_RESULTS,
        "retrieve": Perm.ASSESSMENT_VIEW_RESULTS,
        "create": Perm.ASSESSMENT_ASSIGN,
        "end": Perm.ASSESSMENT_ASSIGN,
    }

    def get_queryset(self) -> QuerySet[ProtocolAssignment]:
        if getattr(self, "swagger_fake_view", False):
            return ProtocolAssignment.all_objects.none()
        return (
            ProtocolAssignment.objects.filter(patient__in=self.clinical_patients().values("pk"))
            .select_related("protocol", "patient", "assigned_by")
            .order_by("-created_at", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.AssignmentFilterIn)
        queryset, patient = self.get_queryset(), None
        if filters.get("patient"):
            patient = self.patient_or_404(filters["patient"])
            queryset = queryset.filter(patient=patient)
        if filters.get("status"):
            queryset = queryset.filter(status=filters["status"])
        return self.audited_list(queryset, object_type="assessments.protocolassignment", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.AssignmentIn, request.data)
        protocol = Protocol.objects.filter(public_id=data["protocol"]).first()
        if protocol is None:
            raise NotFound("No such protocol.")
        patient = self.patient_or_404(data["patient"])
        assignment = services_delivery.protocol_assign(protocol=protocol, patient=patient, by=self.membership)
        return Response(s.AssignmentOut(self.get_queryset().get(pk=assignment.pk)).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def end(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        assignment = self.get_object()
        services_delivery.assignment_end(assignment=assignment, by=self.membership)
        return Response(s.AssignmentOut(self.get_queryset().get(pk=assignment.pk)).data)


# --- Administrations ---------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        parameters=[s.AdministrationFilterIn], responses={200: s.AdministrationOut(many=True), 403: ERROR}
    ),
    retrieve=extend_schema(responses={200: s.AdministrationOut, 404: ERROR}),
    create=extend_schema(request=s.AdministrationIn, responses={201: s.AdministrationOut, 400: ERROR, 404: ERROR}),
)
class AdministrationViewSet(_AssessmentViewSet):
    """Questionnaires due from, sent to and completed by patients of the caller's caseload.
    Creating one sends it now (ad hoc), by email or text link or in the portal."""

    exposes_model = Administration
    serializer_class = s.AdministrationOut
    action_perms = {
        "list": Perm.ASSESSMENT_VIEW_RESULTS,
        "retrieve": Perm.ASSESSMENT_VIEW_RESULTS,
        "create": Perm.ASSESSMENT_ASSIGN,
    }

    def get_queryset(self) -> QuerySet[Administration]:
        if getattr(self, "swagger_fake_view", False):
            return Administration.all_objects.none()
        return (
            Administration.objects.filter(patient__in=self.clinical_patients().values("pk"))
            .select_related("patient", "assignment", "appointment", "requested_by")
            .order_by("-due_at", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.AdministrationFilterIn)
        queryset, patient = self.get_queryset(), None
        if filters.get("patient"):
            patient = self.patient_or_404(filters["patient"])
            queryset = queryset.filter(patient=patient)
        if filters.get("status"):
            queryset = queryset.filter(status=filters["status"])
        return self.audited_list(queryset, object_type="assessments.administration", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.AdministrationIn, request.data)
        patient = self.patient_or_404(data["patient"])
        administration = services_delivery.administration_request(
            patient=patient, instrument_code=data["instrument_code"], channel=data["channel"], by=self.membership
        )
        return Response(
            s.AdministrationOut(self.get_queryset().get(pk=administration.pk)).data, status=status.HTTP_201_CREATED
        )


# --- Responses ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(parameters=[s.ResponseFilterIn], responses={200: s.ResponseOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.ResponseOut, 404: ERROR}),
    create=extend_schema(
        request=s.ResponseIn,
        responses={
            201: s.ResponseOut,
            400: OpenApiResponse(description="Invalid answers: error.fields.answers names the item; nothing stored."),
            404: ERROR,
        },
    ),
)
class ResponseViewSet(_AssessmentViewSet):
    """Scored questionnaire responses of the caller's caseload. Creating one (administered by the
    clinician, entered from paper, or imported) scores it on save and answers with the result:
    total, severity, flags, positive screen, instrument version and the risk alert it opened."""

    exposes_model = AssessmentResponse
    serializer_class = s.ResponseOut
    action_perms = {
        "list": Perm.ASSESSMENT_VIEW_RESULTS,
        "retrieve": Perm.ASSESSMENT_VIEW_RESULTS,
        "create": Perm.ASSESSMENT_ASSIGN,
    }

    def get_queryset(self) -> QuerySet[AssessmentResponse]:
        if getattr(self, "swagger_fake_view", False):
            return AssessmentResponse.all_objects.none()
        return (
            AssessmentResponse.objects.filter(patient__in=self.clinical_patients().values("pk"))
            .select_related("patient", "administration", "administered_by", "corrects")
            .prefetch_related("risk_alerts")
            .order_by("-completed_at", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.ResponseFilterIn)
        queryset, patient = self.get_queryset(), None
        if filters.get("patient"):
            patient = self.patient_or_404(filters["patient"])
            queryset = queryset.filter(patient=patient)
        if filters.get("instrument"):
            queryset = queryset.filter(instrument_code=filters["instrument"])
        if filters.get("since"):
            queryset = queryset.filter(completed_at__gte=filters["since"])
        return self.audited_list(queryset, object_type="assessments.response", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(s.ResponseIn, request.data)
        patient = self.patient_or_404(data["patient"])
        response = response_record(
            patient=patient,
            instrument_code=data["instrument_code"],
            answers=data["answers"],
            mode=data["mode"],
            by=self.membership,
            difficulty=data.get("difficulty"),
            sex=data.get("sex"),
            completed_at=data.get("completed_at"),
        )
        return Response(s.ResponseOut(self.get_queryset().get(pk=response.pk)).data, status=status.HTTP_201_CREATED)


# --- Risk alerts -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(parameters=[s.RiskAlertFilterIn], responses={200: s.RiskAlertOut(many=True), 403: ERROR}),
    retrieve=extend_schema(responses={200: s.RiskAlertOut, 404: ERROR}),
    acknowledge=extend_schema(
        request=s.AcknowledgeIn, responses={200: s.RiskAlertOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR}
    ),
)
class RiskAlertViewSet(_AssessmentViewSet):
    """Risk alerts from flagged responses (open ones by default; ``?status=acknowledged|all``).
    Acknowledging needs a chosen action; "not clinically significant" needs a note."""

    exposes_model = RiskAlert
    serializer_class = s.RiskAlertOut
    required_perm = Perm.RISK_ALERT_ACKNOWLEDGE

    def get_queryset(self) -> QuerySet[RiskAlert]:
        if getattr(self, "swagger_fake_view", False):
            return RiskAlert.all_objects.none()
        return (
            selectors_alerts.alerts_visible_to(self.membership)
            .select_related("patient", "response", "clinician", "escalated_to", "acknowledged_by")
            .order_by("-created_at", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.query(s.RiskAlertFilterIn)
        queryset, patient = self.get_queryset(), None
        if filters.get("patient"):
            patient = access.patients_visible_to(self.membership).filter(public_id=filters["patient"]).first()
            if patient is None:
                raise NotFound("No such patient.")
            queryset = queryset.filter(patient=patient)
        if filters["status"] != "all":
            queryset = queryset.filter(status=filters["status"])
        return self.audited_list(queryset, object_type="assessments.riskalert", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = self.get_object()
        data = self.parse(s.AcknowledgeIn, request.data)
        services_alerts.risk_alert_acknowledge(
            alert=alert, by=self.membership, action=data["action"], note=data["note"]
        )
        access_record(request=request._request, action=AccessEvent.Action.VIEW, target=alert)
        return Response(s.RiskAlertOut(self.get_queryset().get(pk=alert.pk)).data)
