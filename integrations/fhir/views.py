"""FHIR R4 read and search at /fhir/R4/ (JSON only).

Same authentication, practice scope, permissions, caseload and access log as the REST API
(``practice.api_auth``); only the wire format differs: ``application/fhir+json`` resources,
searchset Bundles and OperationOutcome errors. An object of another practice, or one outside the
caller's caseload, is a 404 on read and absent from searches. Psychotherapy notes have no
resource type here (45 CFR 164.501).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from assessments.library import INSTRUMENTS
from assessments.models import Response as AssessmentResponse
from clinical import access
from clinical.models import Patient
from practice.api_auth import PracticeScopedAPIMixin
from practice.audit import access_record
from practice.models import AccessEvent, Membership
from practice.permissions import Perm
from scheduling.models import Appointment

from . import resources as r
from . import selectors
from .search import (
    DEFAULT_COUNT,
    MAX_COUNT,
    SearchError,
    date_q,
    parse_count,
    parse_page,
    parse_reference,
    parse_token,
    parse_uuid,
    split_or,
)

FHIR_JSON = "application/fhir+json"
_JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}
_ISSUE_CODES = {401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 406: "not-supported"}


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "json"


class FhirOnlyNegotiation(BaseContentNegotiation):
    """Always FHIR JSON (a client asking for application/json gets it too; XML is not offered)."""

    def select_parser(self, request: Request, parsers: list) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


def operation_outcome(code: str, diagnostics: str, *, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def fhir_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error as an OperationOutcome with the HTTP status the REST API would use."""
    if isinstance(exc, SearchError):
        return Response(operation_outcome(exc.code, exc.message), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)  # keeps WWW-Authenticate and Retry-After
    if response is None:
        return None
    status = response.status_code
    code = _ISSUE_CODES.get(status, "throttled" if status == 429 else "invalid" if status < 500 else "exception")
    response.data = operation_outcome(code, str(getattr(exc, "detail", exc)))
    return response


class FhirView(PracticeScopedAPIMixin, APIView):
    """Base of every /fhir/R4/ view: FHIR JSON in and out, OperationOutcome errors, GET only."""

    renderer_classes: ClassVar[list] = [FhirJSONRenderer]
    content_negotiation_class = FhirOnlyNegotiation
    http_method_names: ClassVar[list[str]] = ["get", "head", "options"]
    schema = None  # not in the OpenAPI document: /fhir/R4/metadata describes this API

    def get_exception_handler(self) -> Any:
        return fhir_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        requested = request.query_params.get("_format")
        if requested and requested not in _JSON_FORMATS:
            raise exceptions.NotAcceptable("Only JSON is supported (_format=json).")
        super().initial(request, *args, **kwargs)


def base_url(request: Request) -> str:
    return request.build_absolute_uri(reverse("fhir_metadata")).removesuffix("metadata")


# --- Resource types ------------------------------------------------------------------------------

COMMON_PARAMS = frozenset({"_id", "_count", "_page", "_format"})


class ResourceTypeView(FhirView):
    """Read (``<Type>/<id>``) and search (``<Type>?...``) of one resource type.

    Subclasses set the type, the REST scope and permission, the queryset (already limited to what
    the caller may see) and how to filter by each supported search parameter."""

    resource_type: ClassVar[str]
    api_scope: ClassVar[str]
    exposes_model: ClassVar[type[Model] | None]
    search_params: ClassVar[dict[str, str]] = {}  # name -> FHIR search param type (for metadata)
    search_docs: ClassVar[dict[str, str]] = {}
    audit_object_type: ClassVar[str | None] = None  # None: not patient data, no access event

    @property
    def membership(self) -> Membership:
        return self.request.membership

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.membership.practice.timezone)

    # hooks
    def base_queryset(self) -> QuerySet:
        raise NotImplementedError

    def build(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def filter_ids(self, queryset: QuerySet, ids: list[str]) -> QuerySet:
        return queryset.filter(public_id__in=[u for u in map(parse_uuid, ids) if u])

    def filter_param(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        raise NotImplementedError(name)

    def read_object(self, public_id: Any) -> Any:
        obj = self.base_queryset().filter(public_id=public_id).first()
        if obj is None:
            raise exceptions.NotFound(f"{self.resource_type}/{public_id} is not known.")
        return obj

    def audit_read(self, obj: Any) -> None:
        access_record(request=self.request._request, action=AccessEvent.Action.VIEW, target=obj)

    # handlers
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if "public_id" in kwargs:
            obj = self.read_object(kwargs["public_id"])
            if self.audit_object_type:
                self.audit_read(obj)
            return Response(self.build(obj))
        return self.search(request)

    def search(self, request: Request) -> Response:
        params = {name: request.query_params.getlist(name) for name in request.query_params}
        unknown = sorted(set(params) - COMMON_PARAMS - set(self.search_params))
        if unknown:
            raise SearchError(
                f"Unsupported search parameter(s) for {self.resource_type}: {', '.join(unknown)}.",
                code="not-supported",
            )
        count = parse_count(request.query_params.get("_count"))
        page = parse_page(request.query_params.get("_page"))
        queryset = self.base_queryset()
        if "_id" in params:
            queryset = self.filter_ids(queryset, split_or(params["_id"]))
        for name in self.search_params:
            if name in params:
                queryset = self.filter_param(queryset, name, params[name])
        total = queryset.count()
        rows = list(queryset[(page - 1) * count : page * count]) if count else []
        if self.audit_object_type:
            self.audit_search(params)
        return Response(self.bundle(request, [self.build(row) for row in rows], total=total, count=count, page=page))

    def audit_search(self, params: dict[str, list[str]]) -> None:
        patient_id = None
        refs = split_or(params.get("patient", []))
        if len(refs) == 1:
            wanted = _patient_ref(refs[0])
            if wanted and access.patients_visible_to(self.membership).filter(public_id=wanted).exists():
                patient_id = wanted
        access_record(
            request=self.request._request,
            action=AccessEvent.Action.SEARCH
            if set(params) - {"_count", "_page", "_format"}
            else AccessEvent.Action.LIST,
            object_type=self.audit_object_type,
            patient_id=patient_id,
        )

    def bundle(self, request: Request, entries: list[dict], *, total: int, count: int, page: int) -> dict[str, Any]:
        base = base_url(request)
        query = [(k, v) for k, values in request.query_params.lists() for v in values if k != "_page"]

        def page_url(number: int) -> str:
            return f"{base}{self.resource_type}?{urlencode([*query, ('_page', str(number))])}"

        links = [{"relation": "self", "url": page_url(page)}]
        if count and page * count < total:
            links.append({"relation": "next", "url": page_url(page + 1)})
        if page > 1:
            links.append({"relation": "previous", "url": page_url(page - 1)})
        return {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": timezone.now().isoformat()},
            "type": "searchset",
            "total": total,
            "link": links,
            "entry": [
                {
                    "fullUrl": f"{base}{entry['resourceType']}/{entry['id']}",
                    "resource": entry,
                    "search": {"mode": "match"},
                }
                for entry in entries
            ],
        }

    # shared filters
    def date_filter(self, queryset: QuerySet, field: str, values: list[str]) -> QuerySet:
        for value in values:  # repeated date params AND together (a range)
            queryset = queryset.filter(date_q(field, value, tz=self.tz))
        return queryset

    def patient_filter(self, queryset: QuerySet, field: str, values: list[str]) -> QuerySet:
        wanted = [_patient_ref(v) for v in split_or(values)]
        return queryset.filter(**{f"{field}__public_id__in": [w for w in wanted if w]})


def _patient_ref(value: str) -> uuid.UUID | None:
    return parse_reference(value, resource_type="Patient")


class PatientView(ResourceTypeView):
    resource_type = "Patient"
    api_scope = "clinical"
    exposes_model = Patient
    required_perm = Perm.PATIENT_VIEW_DEMOGRAPHICS
    audit_object_type = "clinical.patient"

    def base_queryset(self) -> QuerySet[Patient]:
        return selectors.fhir_patients(viewer=self.membership)

    def build(self, obj: Patient) -> dict[str, Any]:
        return r.patient_resource(obj)


class PractitionerView(ResourceTypeView):
    resource_type = "Practitioner"
    api_scope = "clinical"
    exposes_model = Membership
    required_perm = Perm.STAFF_VIEW

    def base_queryset(self) -> QuerySet[Membership]:
        return selectors.fhir_practitioners()

    def build(self, obj: Membership) -> dict[str, Any]:
        return r.practitioner_resource(obj)


class AppointmentView(ResourceTypeView):
    resource_type = "Appointment"
    api_scope = "scheduling"
    exposes_model = Appointment
    required_perm = Perm.SCHEDULE_VIEW
    audit_object_type = "scheduling.appointment"
    search_params: ClassVar[dict[str, str]] = {"patient": "reference", "date": "date"}
    search_docs: ClassVar[dict[str, str]] = {
        "patient": "An attending patient: Patient/<id> or <id>.",
        "date": "Appointment start; prefixes eq, gt, lt, ge, le.",
    }

    def base_queryset(self) -> QuerySet[Appointment]:
        return selectors.fhir_appointments(viewer=self.membership)

    def build(self, obj: Appointment) -> dict[str, Any]:
        return r.appointment_resource(obj)

    def filter_param(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        if name == "date":
            return self.date_filter(queryset, "starts_at", values)
        wanted = [w for w in (_patient_ref(v) for v in split_or(values)) if w]
        patients = access.patients_visible_to(self.membership).filter(public_id__in=wanted)
        return queryset.filter(attendees__patient__in=patients).distinct()

    def audit_read(self, obj: Appointment) -> None:
        patients = [a.patient for a in obj.attendees.all()]
        access_record(
            request=self.request._request,
            action=AccessEvent.Action.VIEW,
            target=obj,
            patient_id=patients[0].public_id if len(patients) == 1 else None,
        )


class QuestionnaireResponseView(ResourceTypeView):
    resource_type = "QuestionnaireResponse"
    api_scope = "assessments"
    exposes_model = AssessmentResponse
    required_perm = Perm.ASSESSMENT_VIEW_RESULTS
    audit_object_type = "assessments.response"
    search_params: ClassVar[dict[str, str]] = {"patient": "reference", "date": "date", "authored": "date"}
    search_docs: ClassVar[dict[str, str]] = {
        "patient": "The subject: Patient/<id> or <id>.",
        "date": "When it was completed (authored); prefixes eq, gt, lt, ge, le.",
        "authored": "Same as date.",
    }

    def base_queryset(self) -> QuerySet[AssessmentResponse]:
        return selectors.fhir_responses(viewer=self.membership)

    def build(self, obj: AssessmentResponse) -> dict[str, Any]:
        return r.questionnaire_response_resource(obj)

    def filter_param(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        if name in ("date", "authored"):
            return self.date_filter(queryset, "completed_at", values)
        return self.patient_filter(queryset, "patient", values)


_RISK_INSTRUMENTS = [i.code for i in INSTRUMENTS.values() if i.loinc_risk_level]


class ObservationView(ResourceTypeView):
    """Score Observations: one per response that has a total (or a C-SSRS risk level); the id
    is ``<response id>-total`` or ``<response id>-risk``."""

    resource_type = "Observation"
    api_scope = "assessments"
    exposes_model = AssessmentResponse
    required_perm = Perm.ASSESSMENT_VIEW_RESULTS
    audit_object_type = "assessments.response"
    search_params: ClassVar[dict[str, str]] = {"patient": "reference", "date": "date", "code": "token"}
    search_docs: ClassVar[dict[str, str]] = {
        "patient": "The subject: Patient/<id> or <id>.",
        "date": "Effective date (response completed); prefixes eq, gt, lt, ge, le.",
        "code": "LOINC score code, e.g. http://loinc.org|44261-6 (PHQ-9 total) or 70274-6 (GAD-7 total).",
    }
    kind: ClassVar[str] = ""

    def base_queryset(self) -> QuerySet[AssessmentResponse]:
        return selectors.fhir_responses(viewer=self.membership).filter(
            Q(total__isnull=False) | Q(total__isnull=True, instrument_code__in=_RISK_INSTRUMENTS, severity__gt="")
        )

    def build(self, obj: AssessmentResponse) -> dict[str, Any]:
        return r.observation_resources(obj)[0]

    def read_object(self, public_id: Any) -> AssessmentResponse:
        wanted = Q(total__isnull=False) if self.kind == "total" else Q(total__isnull=True)
        obj = self.base_queryset().filter(wanted, public_id=public_id).first()
        if obj is None:
            raise exceptions.NotFound(f"Observation/{public_id}-{self.kind} is not known.")
        return obj

    def filter_ids(self, queryset: QuerySet, ids: list[str]) -> QuerySet:
        wanted = Q(pk__in=[])
        for value in ids:
            stem, _, kind = value.rpartition("-")
            public_id = parse_uuid(stem)
            if public_id and kind in ("total", "risk"):
                wanted |= Q(public_id=public_id, total__isnull=(kind == "risk"))
        return queryset.filter(wanted)

    def filter_param(self, queryset: QuerySet, name: str, values: list[str]) -> QuerySet:
        if name == "date":
            return self.date_filter(queryset, "completed_at", values)
        if name == "patient":
            return self.patient_filter(queryset, "patient", values)
        for value in values:  # each code param ANDs; commas inside one OR
            codes: set[str] = set()
            for token in split_or([value]):
                system, code = parse_token(token)
                if system not in (None, r.LOINC):
                    continue  # only LOINC codes are searchable; text-only codes match nothing
                codes |= {i.code for i in INSTRUMENTS.values() if code and code in (i.loinc_total, i.loinc_risk_level)}
            queryset = queryset.filter(instrument_code__in=codes)
        return queryset


class ObservationTotalView(ObservationView):
    kind = "total"


class ObservationRiskView(ObservationView):
    kind = "risk"


class QuestionnaireView(ResourceTypeView):
    """The instrument library as Questionnaires (same for every practice; not patient data)."""

    resource_type = "Questionnaire"
    api_scope = "assessments"
    exposes_model = None  # library data: no practice owns it
    required_perm = Perm.ASSESSMENT_VIEW_RESULTS

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if "code" in kwargs:
            instrument = INSTRUMENTS.get(kwargs["code"])
            if instrument is None:
                raise exceptions.NotFound(f"Questionnaire/{kwargs['code']} is not known.")
            return Response(r.questionnaire_resource(instrument))
        params = {name: request.query_params.getlist(name) for name in request.query_params}
        unknown = sorted(set(params) - COMMON_PARAMS)
        if unknown:
            raise SearchError(
                f"Unsupported search parameter(s) for Questionnaire: {', '.join(unknown)}.", code="not-supported"
            )
        instruments = list(INSTRUMENTS.values())
        if "_id" in params:
            wanted = set(split_or(params["_id"]))
            instruments = [i for i in instruments if i.code in wanted]
        count = parse_count(request.query_params.get("_count"))
        page = parse_page(request.query_params.get("_page"))
        chosen = instruments[(page - 1) * count : page * count] if count else []
        entries = [r.questionnaire_resource(i) for i in chosen]
        return Response(self.bundle(request, entries, total=len(instruments), count=count, page=page))


RESOURCE_VIEWS: tuple[type[ResourceTypeView], ...] = (
    PatientView,
    PractitionerView,
    AppointmentView,
    QuestionnaireView,
    QuestionnaireResponseView,
    ObservationView,
)


# --- metadata and unknown paths -----------------------------------------------------------------


class CapabilityStatementView(FhirView):
    """``GET /fhir/R4/metadata``: public, as FHIR servers' capability statements are."""

    authentication_classes: ClassVar[list] = []
    permission_classes: ClassVar[list] = [AllowAny]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(capability_statement(base_url(request)))


def capability_statement(base: str) -> dict[str, Any]:
    resources = []
    for view in RESOURCE_VIEWS:
        params = [
            {"name": "_id", "type": "token", "documentation": "Logical id (comma-separated ids OR)."},
            *(
                {"name": name, "type": kind, "documentation": view.search_docs.get(name, "")}
                for name, kind in view.search_params.items()
            ),
            {
                "name": "_count",
                "type": "number",
                "documentation": f"Page size (max {MAX_COUNT}, default {DEFAULT_COUNT}).",
            },
        ]
        resources.append(
            {
                "type": view.resource_type,
                "profile": f"http://hl7.org/fhir/StructureDefinition/{view.resource_type}",
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "no-version",
                "readHistory": False,
                "updateCreate": False,
                "searchParam": params,
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "id": "tend",
        "name": "TendFHIRServer",
        "title": "Tend FHIR R4 API (read and search)",
        "status": "active",
        "experimental": False,
        "date": timezone.now().date().isoformat(),
        "publisher": "Tend",
        "description": (
            "Read and search of a practice's patients, clinicians, appointments, assessment "
            "questionnaires, responses and score observations. Psychotherapy notes are never exposed."
        ),
        "kind": "instance",
        "software": {"name": "Tend"},
        "implementation": {"description": "Tend practice FHIR endpoint", "url": base.rstrip("/")},
        "fhirVersion": r.FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "One practice per credential: every read and search of patient data is logged.",
                "security": {
                    "cors": False,
                    "service": [{"text": "Bearer token"}],
                    "description": (
                        "Send 'Authorization: Bearer <token>' with a Tend user API token or a practice API key "
                        "(scopes clinical:read, scheduling:read, assessments:read). Requests without "
                        "credentials get 401."
                    ),
                },
                "resource": resources,
            }
        ],
    }


class UnknownPathView(FhirView):
    """Anything else under /fhir/R4/: 404 OperationOutcome (not the HTML error page)."""

    authentication_classes: ClassVar[list] = []
    permission_classes: ClassVar[list] = [AllowAny]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound("No such FHIR resource type or interaction here.")
