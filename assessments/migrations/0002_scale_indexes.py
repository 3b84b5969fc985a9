"""Indexes for the assessment lists on the scale data set (issue 10; plans in benchmarks/RESULTS.md).

- responses newest first across instruments (the REST list sorted all 400,000 rows per page).
"""

from django.db import migrations

from practice.db_indexes import concurrent_indexes

INDEXES = {
    "response_practice_completed": "ON assessments_response (practice_id, completed_at, id)",
}


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY
    dependencies = [("assessments", "0001_assessments")]
    operations = [concurrent_indexes(INDEXES)]
