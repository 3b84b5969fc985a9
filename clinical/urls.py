"""Clinical routes, all under /p/<practice_slug>/. Each area keeps its own list."""

from clinical.urls_notes import urlpatterns as note_urls
from clinical.urls_patients import urlpatterns as patient_urls
from clinical.urls_records import urlpatterns as record_urls

urlpatterns = [*patient_urls, *note_urls, *record_urls]
