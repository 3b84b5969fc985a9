"""No double booking, enforced by PostgreSQL (SPEC 4): exclusion constraints over the time range
of active appointments of a clinician and of a room, and of a patient's active attendances.

Half-open ranges ('[)') so back-to-back sessions (10:00-10:50, 10:50-11:40) do not conflict.
On SQLite the service layer's overlap check is the only guard.
"""

from django.db import migrations

ACTIVE_APPOINTMENT = "status IN ('scheduled', 'confirmed', 'arrived', 'completed')"
ACTIVE_ATTENDEE = "status IN ('expected', 'confirmed', 'arrived', 'attended')"

CONSTRAINTS = (
    ("scheduling_appointment", "appt_no_clinician_overlap", "clinician_id WITH =", ACTIVE_APPOINTMENT),
    ("scheduling_appointment", "appt_no_room_overlap", "room_id WITH =", f"room_id IS NOT NULL AND {ACTIVE_APPOINTMENT}"),
    ("scheduling_attendee", "attendee_no_patient_overlap", "patient_id WITH =", ACTIVE_ATTENDEE),
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        for table, name, key, condition in CONSTRAINTS:
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} EXCLUDE USING gist "
                f"({key}, tstzrange(starts_at, ends_at, '[)') WITH &&) WHERE ({condition})"
            )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, name, _key, _condition in CONSTRAINTS:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_scheduling")]
    operations = [migrations.RunPython(forwards, backwards)]
