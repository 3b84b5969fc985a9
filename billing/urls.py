"""Billing routes under /p/<practice_slug>/."""

from billing.urls_ar import urlpatterns as ar_urls
from billing.urls_claims import urlpatterns as claim_urls
from billing.urls_clearinghouse import urlpatterns as clearinghouse_urls
from billing.urls_denials import urlpatterns as denial_urls
from billing.urls_files import urlpatterns as file_urls
from billing.urls_patient_billing import urlpatterns as patient_billing_urls
from billing.urls_remittance import urlpatterns as remittance_urls
from billing.urls_setup import urlpatterns as setup_urls

urlpatterns = [
    *setup_urls,
    *claim_urls,
    *file_urls,
    *clearinghouse_urls,
    *remittance_urls,
    *patient_billing_urls,
    *denial_urls,
    *ar_urls,
]
