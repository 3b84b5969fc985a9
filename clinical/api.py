"""REST API of the clinical record (/api/v1/): patients, diagnoses, notes, plans, medications,
chart documents (metadata, and the file through ``documents/<id>/download/``).

Same rules as the pages: the caseload (clinical.access) decides which patients a caller sees and
whose clinical content they may read; every read writes a PHI access event; writes go through the
services. Psychotherapy notes have no endpoint at all (45 CFR 164.501).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from clinical import access
from clinical import serializers as s
from clinical.models import Diagnosis, Document, Medication, NoteTemplate, Patient, ProgressNote, TreatmentPlan
from clinical.selectors.patients import patient_search
from clinical.services.notes import note_create, note_sign, note_update_draft
from clinical.services.patients import DuplicatePatient, diagnosis_add, patient_create, patient_update
from clinical.services.records import DOCUMENT_TYPES
from clinical.views.records import DOWNLOAD_HEADERS
from practice.api_auth import AuditedReadMixin, PracticeScopedAPIMixin
from practice.audit import access_record
from practice.models import AccessEvent, Membership
from practice.permissions import Perm


class _ClinicalViewSet(PracticeScopedAPIMixin, AuditedReadMixin, viewsets.GenericViewSet):
    api_scope = "clinical"
    lookup_field = "public_id"
    filter_serializer_class: type = s.PatientScopedFilterIn

    def filters(self) -> dict[str, Any]:
        form = self.filter_serializer_class(data=self.request.query_params.dict())
        form.is_valid(raise_exception=True)
        return form.validated_data

    def _clinical_patients(self) -> QuerySet[Patient]:
        return access.patients_with_clinical_access(self.membership)

    def _patient_for_write(self, public_id: Any, *, clinical: bool = True) -> Patient:
        allowed = self._clinical_patients() if clinical else access.patients_visible_to(self.membership)
        patient = allowed.filter(public_id=public_id).first()
        if patient is None:
            raise NotFound
        return patient

    def _patient_filter(self, queryset: QuerySet) -> tuple[QuerySet, Patient | None]:
        patient_id = self.filters().get("patient")
        if not patient_id:
            return queryset, None
        patient = self._clinical_patients().filter(public_id=patient_id).first()
        if patient is None:
            raise NotFound
        return queryset.filter(patient=patient), patient


@extend_schema_view(
    list=extend_schema(parameters=[s.PatientFilterIn], responses=s.PatientOut(many=True)),
    retrieve=extend_schema(responses=s.PatientOut),
    create=extend_schema(request=s.PatientIn, responses={201: s.PatientOut}),
    partial_update=extend_schema(request=s.PatientIn, responses=s.PatientOut),
)
class PatientViewSet(_ClinicalViewSet):
    """Patients the caller may see (their caseload, or all for front desk, billing and admins)."""

    exposes_model = Patient
    serializer_class = s.PatientOut
    filter_serializer_class = s.PatientFilterIn
    action_perms = {
        "list": Perm.PATIENT_VIEW_DEMOGRAPHICS,
        "retrieve": Perm.PATIENT_VIEW_DEMOGRAPHICS,
        "create": Perm.PATIENT_EDIT_DEMOGRAPHICS,
        "partial_update": Perm.PATIENT_EDIT_DEMOGRAPHICS,
    }

    def get_queryset(self) -> QuerySet[Patient]:
        if getattr(self, "swagger_fake_view", False):
            return Patient.all_objects.none()
        return (
            access.patients_visible_to(self.membership)
            .select_related("primary_clinician")
            .order_by("legal_last_name", "legal_first_name", "id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = self.filters()
        queryset = self.get_queryset()
        if filters.get("q"):
            queryset = patient_search(membership=self.membership, query=filters["q"])
        if filters.get("status"):
            queryset = queryset.filter(status=filters["status"])
        access_record(
            request=request._request,
            action=AccessEvent.Action.SEARCH if filters.get("q") else AccessEvent.Action.LIST,
            object_type="clinical.patient",
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def _fields(self, data: dict) -> dict:
        fields = dict(data)
        fields.pop("allow_duplicate", None)
        if "primary_clinician" in fields:
            clinician_id = fields["primary_clinician"]
            fields["primary_clinician"] = (
                Membership.objects.filter(public_id=clinician_id, is_active=True).first() if clinician_id else None
            )
            if clinician_id and fields["primary_clinician"] is None:
                raise NotFound("No such clinician.")
        return fields

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.PatientIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            patient = patient_create(
                by=self.membership,
                allow_duplicate=data.validated_data.get("allow_duplicate", False),
                **self._fields(data.validated_data),
            )
        except DuplicatePatient as exc:
            body = {
                "error": {
                    "status": 409,
                    "code": exc.code,
                    "message": exc.message + " Send allow_duplicate=true to create it anyway.",
                    "fields": {},
                    "duplicates": [{"id": str(p.public_id), "mrn": p.mrn} for p in exc.matches],
                }
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(s.PatientOut(patient).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.get_object()
        data = s.PatientIn(patient, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        patient = patient_update(patient=patient, by=self.membership, **self._fields(data.validated_data))
        return Response(s.PatientOut(patient).data)


@extend_schema_view(
    list=extend_schema(parameters=[s.PatientScopedFilterIn], responses=s.DiagnosisOut(many=True)),
    retrieve=extend_schema(responses=s.DiagnosisOut),
    create=extend_schema(request=s.DiagnosisIn, responses={201: s.DiagnosisOut}),
)
class DiagnosisViewSet(_ClinicalViewSet):
    """Diagnoses (ICD-10-CM) of patients whose chart the caller may read."""

    exposes_model = Diagnosis
    serializer_class = s.DiagnosisOut
    action_perms = {
        "list": Perm.CHART_VIEW_CLINICAL,
        "retrieve": Perm.CHART_VIEW_CLINICAL,
        "create": Perm.NOTE_WRITE,
    }

    def get_queryset(self) -> QuerySet[Diagnosis]:
        if getattr(self, "swagger_fake_view", False):
            return Diagnosis.all_objects.none()
        return (
            Diagnosis.objects.filter(patient__in=self._clinical_patients().values("pk"))
            .select_related("patient", "code")
            .order_by("patient_id", "resolved_on", "rank", "id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset, patient = self._patient_filter(self.get_queryset())
        return self.audited_list(queryset, object_type="clinical.diagnosis", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.DiagnosisIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = self._patient_for_write(fields.pop("patient"))
        diagnosis = diagnosis_add(patient=patient, by=self.membership, **fields)
        return Response(s.DiagnosisOut(diagnosis).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(parameters=[s.NoteFilterIn], responses=s.NoteOut(many=True)),
    retrieve=extend_schema(responses=s.NoteOut),
    create=extend_schema(request=s.NoteCreateIn, responses={201: s.NoteOut}),
    partial_update=extend_schema(request=s.NoteUpdateIn, responses=s.NoteOut),
    sign=extend_schema(request=s.SignIn, responses=s.NoteOut),
)
class NoteViewSet(_ClinicalViewSet):
    """Clinical notes (never psychotherapy notes). Drafts can be created and updated; ``sign``
    locks a note (co-signature pending for pre-licensed authors)."""

    exposes_model = ProgressNote
    serializer_class = s.NoteOut
    filter_serializer_class = s.NoteFilterIn
    action_perms = {
        "list": Perm.CHART_VIEW_CLINICAL,
        "retrieve": Perm.CHART_VIEW_CLINICAL,
        "create": Perm.NOTE_WRITE,
        "partial_update": Perm.NOTE_WRITE,
        "sign": Perm.NOTE_WRITE,
    }

    def get_queryset(self) -> QuerySet[ProgressNote]:
        if getattr(self, "swagger_fake_view", False):
            return ProgressNote.all_objects.none()
        return (
            ProgressNote.objects.filter(patient__in=self._clinical_patients().values("pk"))
            .select_related("patient", "author", "template", "cosigner")
            .prefetch_related("addenda__author")
            .order_by("-session_on", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset, patient = self._patient_filter(self.get_queryset())
        if self.filters().get("status"):
            queryset = queryset.filter(status=self.filters()["status"])
        return self.audited_list(queryset, object_type="clinical.progressnote", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.NoteCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = self._patient_for_write(data.validated_data["patient"])
        template = NoteTemplate.objects.filter(public_id=data.validated_data["template"], is_active=True).first()
        if template is None:
            raise NotFound("No such note template.")
        note = note_create(
            author=self.membership, patient=patient, template=template, session_on=data.validated_data["session_on"]
        )
        return Response(s.NoteOut(note).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        note = self.get_object()
        data = s.NoteUpdateIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        note, _changed = note_update_draft(note=note, by=self.membership, fields=data.validated_data)
        return Response(s.NoteOut(note).data)

    @action(detail=True, methods=["post"])
    def sign(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        note = self.get_object()
        data = s.SignIn(data=request.data)
        data.is_valid(raise_exception=True)
        note = note_sign(note=note, by=self.membership, credential=data.validated_data["credential"])
        return Response(s.NoteOut(note).data)


@extend_schema_view(
    list=extend_schema(parameters=[s.PatientScopedFilterIn], responses=s.TreatmentPlanOut(many=True)),
    retrieve=extend_schema(responses=s.TreatmentPlanOut),
)
class TreatmentPlanViewSet(_ClinicalViewSet, mixins.ListModelMixin):
    """Treatment plans, every version, with problems, goals and objectives."""

    exposes_model = TreatmentPlan
    serializer_class = s.TreatmentPlanOut
    required_perm = Perm.CHART_VIEW_CLINICAL

    def get_queryset(self) -> QuerySet[TreatmentPlan]:
        if getattr(self, "swagger_fake_view", False):
            return TreatmentPlan.all_objects.none()
        return (
            TreatmentPlan.objects.filter(patient__in=self._clinical_patients().values("pk"))
            .select_related("patient", "author")
            .prefetch_related("problems__goals__objectives")
            .order_by("patient_id", "-version")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset, patient = self._patient_filter(self.get_queryset())
        return self.audited_list(queryset, object_type="clinical.treatmentplan", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()


@extend_schema_view(
    list=extend_schema(parameters=[s.PatientScopedFilterIn], responses=s.MedicationOut(many=True)),
    retrieve=extend_schema(responses=s.MedicationOut),
)
class MedicationViewSet(_ClinicalViewSet, mixins.ListModelMixin):
    """Medications on patients' charts."""

    exposes_model = Medication
    serializer_class = s.MedicationOut
    required_perm = Perm.CHART_VIEW_CLINICAL

    def get_queryset(self) -> QuerySet[Medication]:
        if getattr(self, "swagger_fake_view", False):
            return Medication.all_objects.none()
        return (
            Medication.objects.filter(patient__in=self._clinical_patients().values("pk"))
            .select_related("patient")
            .order_by("patient_id", "stopped_on", "name")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset, patient = self._patient_filter(self.get_queryset())
        return self.audited_list(queryset, object_type="clinical.medication", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()


@extend_schema_view(
    list=extend_schema(parameters=[s.DocumentFilterIn], responses=s.DocumentOut(many=True)),
    retrieve=extend_schema(responses=s.DocumentOut),
    download=extend_schema(
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file, as an attachment.")
            for media_type in DOCUMENT_TYPES
        },
        description="The document's file, served with the type detected at upload (never the uploader's "
        "name or type); recorded in the access log like the chart's download.",
    ),
)
class DocumentViewSet(_ClinicalViewSet):
    """Documents on the charts the caller may read (consents, releases, outside records ...)."""

    exposes_model = Document
    serializer_class = s.DocumentOut
    filter_serializer_class = s.DocumentFilterIn
    required_perm = Perm.CHART_VIEW_CLINICAL

    def get_queryset(self) -> QuerySet[Document]:
        if getattr(self, "swagger_fake_view", False):
            return Document.all_objects.none()
        return (
            Document.objects.filter(patient__in=self._clinical_patients().values("pk"))
            .select_related("patient", "uploaded_by__user")
            .order_by("-created_at", "-id")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset, patient = self._patient_filter(self.get_queryset())
        if self.filters().get("category"):
            queryset = queryset.filter(category=self.filters()["category"])
        return self.audited_list(queryset, object_type="clinical.document", patient=patient)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_retrieve()

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # a file answers whatever the client accepts (an Accept of application/pdf is no 406)
        return super().perform_content_negotiation(request, force=force or self.action == "download")

    @action(detail=True, methods=["get"])
    def download(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        document = self.get_object()
        access_record(request=request._request, action=AccessEvent.Action.VIEW, target=document)
        extension = DOCUMENT_TYPES.get(document.content_type, "bin")
        response = FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=f"document-{document.public_id}.{extension}",
            content_type=document.content_type,
        )
        for header, value in DOWNLOAD_HEADERS.items():
            response[header] = value
        return response
