from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("practice.urls")),
    path("p/<slug:practice_slug>/", include("clinical.urls")),
    path("p/<slug:practice_slug>/", include("scheduling.urls")),
    path("p/<slug:practice_slug>/", include("notifications.urls")),
    path("p/<slug:practice_slug>/", include("assessments.urls")),
    path("p/<slug:practice_slug>/", include("billing.urls")),
    path("p/<slug:practice_slug>/", include("portal.urls_staff")),
    path("p/<slug:practice_slug>/", include("integrations.urls")),
    path("portal/", include("portal.urls")),
    # Public endpoints authenticated by their own secret (feed token, offer token, Twilio signature)
    path("", include("scheduling.urls_public")),
    path("", include("notifications.urls_public")),
    path("", include("assessments.urls_public")),
    path("api/v1/", include("practice.api_urls")),
    path("api/", include("practice.api_schema_urls")),
    path("fhir/R4/", include("integrations.fhir.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "practice.views.errors.not_found"
handler403 = "practice.views.errors.forbidden"
handler500 = "practice.views.errors.server_error"
