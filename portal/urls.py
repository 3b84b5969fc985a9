"""Patient-side portal routes, mounted at /portal/. Every view is wrapped in `portal.access.portal_view`
(except sign-in, invitation and password reset)."""

from django.urls import include, path

urlpatterns = [
    path("", include("portal.urls_account")),
    path("appointments/", include("portal.urls_appointments")),
    path("forms/", include("portal.urls_intake")),
    path("messages/", include("portal.urls_messages")),
    path("", include("portal.urls_records")),
]
