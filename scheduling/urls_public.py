"""Public scheduling routes: no practice slug, no login. The token in the URL is the credential
(only its sha256 is stored); each view finds its practice from the token and enters its scope."""

from django.urls import path

from scheduling import views_waitlist as v

urlpatterns = [
    path("ical/<str:token>.ics", v.ical_feed_view, name="ical_feed"),
    path("offers/<str:token>/", v.waitlist_offer_respond_view, name="waitlist_offer_respond"),
]
