"""Staff-side portal settings, under /p/<practice_slug>/."""

from django.urls import path

from portal import views_staff_booking as v

urlpatterns = [
    path("portal/settings/", v.portal_settings, name="portal_settings"),
]
