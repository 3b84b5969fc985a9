"""Patient-side intake routes, mounted at /portal/forms/. The step is chosen with ?n=<position>."""

from django.urls import path

from portal import views_intake as views

urlpatterns = [
    path("", views.portal_intake, name="portal_intake"),
    path("<uuid:submission_id>/step/", views.portal_intake_step, name="portal_intake_step"),
    path("<uuid:submission_id>/upload/", views.portal_intake_upload, name="portal_intake_upload"),
    path("<uuid:submission_id>/submit/", views.portal_intake_review_submit, name="portal_intake_review_submit"),
]
