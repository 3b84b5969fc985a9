"""/api/v1/ routes of the clinical record (included from practice/api_urls.py)."""

from django.urls import path

from clinical import api

urlpatterns = [
    path("patients/", api.PatientViewSet.as_view({"get": "list", "post": "create"}), name="api_patient_list"),
    path(
        "patients/<uuid:public_id>/",
        api.PatientViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_patient_detail",
    ),
    path("diagnoses/", api.DiagnosisViewSet.as_view({"get": "list", "post": "create"}), name="api_diagnosis_list"),
    path("diagnoses/<uuid:public_id>/", api.DiagnosisViewSet.as_view({"get": "retrieve"}), name="api_diagnosis_detail"),
    path("notes/", api.NoteViewSet.as_view({"get": "list", "post": "create"}), name="api_note_list"),
    path(
        "notes/<uuid:public_id>/",
        api.NoteViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_note_detail",
    ),
    path("notes/<uuid:public_id>/sign/", api.NoteViewSet.as_view({"post": "sign"}), name="api_note_sign"),
    path("treatment-plans/", api.TreatmentPlanViewSet.as_view({"get": "list"}), name="api_plan_list"),
    path(
        "treatment-plans/<uuid:public_id>/",
        api.TreatmentPlanViewSet.as_view({"get": "retrieve"}),
        name="api_plan_detail",
    ),
    path("medications/", api.MedicationViewSet.as_view({"get": "list"}), name="api_medication_list"),
    path(
        "medications/<uuid:public_id>/",
        api.MedicationViewSet.as_view({"get": "retrieve"}),
        name="api_medication_detail",
    ),
    path("documents/", api.DocumentViewSet.as_view({"get": "list"}), name="api_document_list"),
    path(
        "documents/<uuid:public_id>/",
        api.DocumentViewSet.as_view({"get": "retrieve"}),
        name="api_document_detail",
    ),
    path(
        "documents/<uuid:public_id>/download/",
        api.DocumentViewSet.as_view({"get": "download"}),
        name="api_document_download",
    ),
]
