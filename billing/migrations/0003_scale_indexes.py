"""Indexes for the billing lists on the scale data set (issue 10; plans in benchmarks/RESULTS.md).

- claims and charges newest / oldest date of service first (the REST lists, the claim queue with no
  status, the charge page): without them every page sorted the whole table;
- the denial queue by status (open cases), oldest first;
- patient payments newest first (REST list) and remittances newest first (remittance page, and the
  REST remittance-claim list, which walks remittances in that order).
"""

from django.db import migrations

from practice.db_indexes import concurrent_indexes

INDEXES = {
    "claim_practice_dos_id": "ON billing_claim (practice_id, service_date, id)",
    "charge_practice_dos_id": "ON billing_charge (practice_id, service_date, id)",
    "denialcase_practice_status": "ON billing_denialcase (practice_id, status, created_at)",
    "patientpayment_practice_received": "ON billing_patientpayment (practice_id, received_on, id)",
    "remittance_practice_created": "ON billing_remittance (practice_id, created_at, id)",
}


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY
    dependencies = [("billing", "0002_remittances_ledger")]
    operations = [concurrent_indexes(INDEXES)]
