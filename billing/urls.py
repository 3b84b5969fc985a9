"""Billing routes under /p/<practice_slug>/."""

from billing.urls_claims import urlpatterns as claim_urls
from billing.urls_clearinghouse import urlpatterns as clearinghouse_urls
from billing.urls_files import urlpatterns as file_urls
from billing.urls_setup import urlpatterns as setup_urls

urlpatterns = [*setup_urls, *claim_urls, *file_urls, *clearinghouse_urls]
