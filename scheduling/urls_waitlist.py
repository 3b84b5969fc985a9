"""Waitlist and calendar-feed routes under /p/<practice_slug>/ (the waitlist area's URL contract)."""

from django.urls import path

from scheduling import views_waitlist as v

urlpatterns = [
    path("waitlist/", v.waitlist_view, name="waitlist"),
    path("waitlist/new/", v.waitlist_entry_new_view, name="waitlist_entry_new"),
    path("waitlist/<uuid:entry_id>/", v.waitlist_entry_view, name="waitlist_entry"),
    path("schedule/feeds/", v.calendar_feeds_view, name="calendar_feeds"),
    path("schedule/feeds/<uuid:feed_id>/revoke/", v.calendar_feed_revoke_view, name="calendar_feed_revoke"),
]
