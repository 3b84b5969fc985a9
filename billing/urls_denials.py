"""Denials routes under /p/<practice_slug>/: the work queue, one denial, its actions, the appeal PDF."""

from django.urls import path

from billing import views_denials as views

urlpatterns = [
    path("billing/denials/", views.denial_queue_view, name="denial_queue"),
    path("billing/denials/<uuid:case_id>/", views.denial_detail_view, name="denial_detail"),
    path("billing/denials/<uuid:case_id>/action/", views.denial_action_view, name="denial_action"),
    path("billing/denials/<uuid:case_id>/appeal.pdf", views.denial_appeal_pdf_view, name="appeal_letter_pdf"),
]
