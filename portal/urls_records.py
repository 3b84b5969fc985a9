"""Patient-side questionnaires and billing, mounted at /portal/."""

from django.urls import path

from portal import views_records as views

urlpatterns = [
    path("questionnaires/", views.portal_questionnaires, name="portal_questionnaires"),
    path("questionnaires/<uuid:administration_id>/", views.portal_questionnaire, name="portal_questionnaire"),
    path("billing/", views.portal_billing, name="portal_billing"),
    path("billing/statements/<uuid:statement_id>/pdf/", views.portal_statement_pdf, name="portal_statement_pdf"),
    path("billing/superbill/", views.portal_superbill, name="portal_superbill"),
]
