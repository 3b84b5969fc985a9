"""Records routes (treatment plans, medications, prescriptions, documents, chart PDF, export)."""

from django.urls import path

from clinical.views import records as v

urlpatterns = [
    path("patients/<uuid:patient_id>/plans/new/", v.plan_create_view, name="plan_create"),
    path("plans/<uuid:plan_id>/", v.plan_detail_view, name="plan_detail"),
    path("plans/<uuid:plan_id>/edit/", v.plan_edit_view, name="plan_edit"),
    path("plans/<uuid:plan_id>/sign/", v.plan_sign_view, name="plan_sign"),
    path("plans/<uuid:plan_id>/revise/", v.plan_revise_view, name="plan_revise"),
    path("plans/<uuid:plan_id>/patient-sign/", v.plan_patient_sign_view, name="plan_patient_sign"),
    path("plans/<uuid:plan_id>/objectives/status/", v.plan_objective_status_view, name="plan_objective_status"),
    path("patients/<uuid:patient_id>/medications/new/", v.medication_create_view, name="medication_create"),
    path("medications/<uuid:medication_id>/", v.medication_edit_view, name="medication_edit"),
    path("medications/<uuid:medication_id>/prescriptions/new/", v.prescription_create_view, name="prescription_create"),
    path("prescriptions/<uuid:prescription_id>/pdf/", v.prescription_pdf_view, name="prescription_pdf"),
    path("patients/<uuid:patient_id>/documents/new/", v.document_upload_view, name="document_upload"),
    path("documents/<uuid:document_id>/download/", v.document_download_view, name="document_download"),
    path("patients/<uuid:patient_id>/chart.pdf", v.chart_pdf_view, name="chart_pdf"),
    path("patients/<uuid:patient_id>/export/", v.patient_export_view, name="patient_export"),
]
