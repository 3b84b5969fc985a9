"""Indexes for the calendar and the attendance reports on the scale data set (issue 10; plans in
benchmarks/RESULTS.md).

- a clinician's appointments by end time: the calendar asks for `starts_at < end AND ends_at > start`;
  the start index alone reads every earlier appointment of the clinician (three years of them for
  today's week), the end index reads only the ones ending after the window opens;
- attendances by start time across patients: the admin home's "sessions without a signed note" (last
  30 days) and the quality reports scanned all attendee rows.
"""

from django.db import migrations

from practice.db_indexes import concurrent_indexes

INDEXES = {
    "appt_clinician_end": "ON scheduling_appointment (practice_id, clinician_id, ends_at)",
    "attendee_practice_time": "ON scheduling_attendee (practice_id, starts_at)",
}


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY
    dependencies = [("scheduling", "0002_no_double_booking")]
    operations = [concurrent_indexes(INDEXES)]
