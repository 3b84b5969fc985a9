"""Public questionnaire link: no practice slug, no login; the token is the credential (only its
sha256 is stored)."""

from django.urls import path

from assessments import views_public as v

urlpatterns = [
    path("q/<str:token>/", v.questionnaire_link_view, name="questionnaire_link"),
]
