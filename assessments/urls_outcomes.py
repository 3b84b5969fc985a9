"""Outcome routes (H4): a patient's longitudinal assessment view, the outcome dashboard and the
value-based quality reports, each with its CSV export."""

from django.urls import path

from assessments import views_outcomes as views

urlpatterns = [
    path("patients/<uuid:patient_id>/assessments/", views.patient_assessments_view, name="patient_assessments"),
    path("outcomes/", views.outcome_dashboard_view, name="outcome_dashboard"),
    path("outcomes/export.csv", views.outcome_dashboard_csv_view, name="outcome_dashboard_csv"),
    path("outcomes/quality/", views.quality_reports_view, name="quality_reports"),
    # the measure is a query parameter (?measure=<key>): the route matrix reverses pages from ids only
    path("outcomes/quality/export.csv", views.quality_report_csv_view, name="quality_report_csv"),
]
