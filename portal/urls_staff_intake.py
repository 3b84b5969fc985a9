"""Staff intake routes under /p/<practice_slug>/portal/intake/."""

from django.urls import path

from portal import views_staff_intake as views

urlpatterns = [
    path("portal/intake/", views.intake_queue, name="intake_queue"),
    path("portal/intake/packets/", views.intake_packets, name="intake_packets"),
    path("portal/intake/consents/", views.intake_consents, name="intake_consents"),
    path(
        "portal/intake/consents/<uuid:consent_id>/version/",
        views.intake_consent_version,
        name="intake_consent_version",
    ),
    path("portal/intake/uploads/<uuid:upload_id>/", views.intake_upload_file, name="intake_upload_file"),
    path("portal/intake/<uuid:submission_id>/", views.intake_review, name="intake_review"),
    path("portal/intake/<uuid:submission_id>/accept/", views.intake_accept, name="intake_accept"),
    path("portal/intake/<uuid:submission_id>/return/", views.intake_return, name="intake_return"),
]
