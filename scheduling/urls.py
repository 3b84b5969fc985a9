"""Scheduling routes under /p/<practice_slug>/ (public ones live in urls_public.py)."""

from scheduling.urls_calendar import urlpatterns as calendar_urls
from scheduling.urls_waitlist import urlpatterns as waitlist_urls

urlpatterns = [*calendar_urls, *waitlist_urls]
