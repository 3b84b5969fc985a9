"""Assessment routes under /p/<practice_slug>/ (the questionnaire link lives in urls_public.py)."""

from assessments.urls_alerts import urlpatterns as alert_urls
from assessments.urls_delivery import urlpatterns as delivery_urls
from assessments.urls_outcomes import urlpatterns as outcome_urls

urlpatterns = [*delivery_urls, *alert_urls, *outcome_urls]
