"""Patient routes (all under /p/<practice_slug>/): list and search, chart, demographics,
consents, diagnoses, break-the-glass and sharing."""

from django.urls import path

from clinical.views import patients as v

urlpatterns = [
    path("patients/", v.patient_list_view, name="patient_list"),
    path("patients/new/", v.patient_create_view, name="patient_create"),
    path("patients/<uuid:patient_id>/", v.patient_chart_view, name="patient_chart"),
    path("patients/<uuid:patient_id>/edit/", v.patient_edit_view, name="patient_edit"),
    path("patients/<uuid:patient_id>/consents/", v.patient_consent_view, name="patient_consent"),
    path("patients/<uuid:patient_id>/diagnoses/add/", v.diagnosis_add_view, name="diagnosis_add"),
    path(
        "patients/<uuid:patient_id>/diagnoses/<uuid:diagnosis_id>/resolve/",
        v.diagnosis_resolve_view,
        name="diagnosis_resolve",
    ),
    path(
        "patients/<uuid:patient_id>/diagnoses/<uuid:diagnosis_id>/primary/",
        v.diagnosis_make_primary_view,
        name="diagnosis_make_primary",
    ),
    path("diagnosis-codes/", v.diagnosis_code_search_view, name="diagnosis_code_search"),
    path("patients/<uuid:patient_id>/break-glass/", v.patient_break_glass_view, name="patient_break_glass"),
    path("patients/<uuid:patient_id>/share/", v.patient_share_view, name="patient_share"),
    path("audit/break-glass/", v.break_glass_log_view, name="break_glass_log"),
]
