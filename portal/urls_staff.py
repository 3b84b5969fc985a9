"""Staff-side portal routes, mounted under /p/<practice_slug>/ (practice scope from the middleware)."""

from django.urls import include, path

urlpatterns = [
    path("", include("portal.urls_staff_account")),
    path("", include("portal.urls_staff_booking")),
    path("", include("portal.urls_staff_intake")),
    path("", include("portal.urls_staff_messages")),
]
