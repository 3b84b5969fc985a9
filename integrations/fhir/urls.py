"""/fhir/R4/: FHIR R4 read and search (integrations.fhir.views)."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("metadata", views.CapabilityStatementView.as_view(), name="fhir_metadata"),
    path("Patient", views.PatientView.as_view(), name="fhir_patient_search"),
    path("Patient/<uuid:public_id>", views.PatientView.as_view(), name="fhir_patient_read"),
    path("Practitioner", views.PractitionerView.as_view(), name="fhir_practitioner_search"),
    path("Practitioner/<uuid:public_id>", views.PractitionerView.as_view(), name="fhir_practitioner_read"),
    path("Appointment", views.AppointmentView.as_view(), name="fhir_appointment_search"),
    path("Appointment/<uuid:public_id>", views.AppointmentView.as_view(), name="fhir_appointment_read"),
    path("Questionnaire", views.QuestionnaireView.as_view(), name="fhir_questionnaire_search"),
    path("Questionnaire/<str:code>", views.QuestionnaireView.as_view(), name="fhir_questionnaire_read"),
    path("QuestionnaireResponse", views.QuestionnaireResponseView.as_view(), name="fhir_response_search"),
    path(
        "QuestionnaireResponse/<uuid:public_id>",
        views.QuestionnaireResponseView.as_view(),
        name="fhir_response_read",
    ),
    path("Observation", views.ObservationView.as_view(), name="fhir_observation_search"),
    # An Observation id is its response's id plus the score it carries.
    path("Observation/<uuid:public_id>-total", views.ObservationTotalView.as_view(), name="fhir_observation_total"),
    path("Observation/<uuid:public_id>-risk", views.ObservationRiskView.as_view(), name="fhir_observation_risk"),
    re_path(r"^.*$", views.UnknownPathView.as_view(), name="fhir_unknown"),
]
