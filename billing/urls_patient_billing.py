"""Patient billing routes under /p/<practice_slug>/ (helper R2, issue 7)."""

from django.urls import path

from billing import views_patient_billing as v

urlpatterns = [
    path("patients/<uuid:patient_id>/balance/", v.patient_balance_view, name="patient_balance"),
    path(
        "patients/<uuid:patient_id>/statements/<uuid:statement_id>/pdf/",
        v.statement_pdf_view,
        name="statement_pdf",
    ),
    path("appointments/<uuid:appointment_id>/copay/", v.appointment_copay_view, name="appointment_copay"),
    path("patients/<uuid:patient_id>/superbill/", v.superbill_pdf_view, name="superbill_pdf"),
]
