"""Questionnaire delivery pages under /p/<practice_slug>/: protocols, assessment settings and a
patient's questionnaires."""

from django.urls import path

from assessments import views_delivery as v

urlpatterns = [
    path("outcomes/protocols/", v.protocol_list_view, name="protocol_list"),
    path("outcomes/protocols/new/", v.protocol_new_view, name="protocol_new"),
    path("outcomes/protocols/<uuid:protocol_id>/", v.protocol_edit_view, name="protocol_edit"),
    path("outcomes/settings/", v.assessment_settings_view, name="assessment_settings"),
    path("patients/<uuid:patient_id>/assessments/new/", v.assessment_administer_view, name="assessment_administer"),
    path(
        "patients/<uuid:patient_id>/assessments/responses/<uuid:response_id>/",
        v.response_detail_view,
        name="response_detail",
    ),
    path(
        "patients/<uuid:patient_id>/assessments/responses/<uuid:response_id>/correct/",
        v.response_correct_view,
        name="response_correct",
    ),
    path("patients/<uuid:patient_id>/assessments/assign/", v.assessment_assign_view, name="assessment_assign"),
    path(
        "patients/<uuid:patient_id>/assessments/assignments/<uuid:assignment_id>/end/",
        v.assignment_end_view,
        name="assignment_end",
    ),
    path("patients/<uuid:patient_id>/assessments/send/", v.assessment_send_view, name="assessment_send"),
]
