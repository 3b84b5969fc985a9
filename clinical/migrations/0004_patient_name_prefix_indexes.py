"""PostgreSQL: prefix indexes for the patient name search.

Django turns `legal_last_name__istartswith=x` into `UPPER(legal_last_name::text) LIKE UPPER('x%')`; a b-tree
with text_pattern_ops on that expression serves it (SQLite has no use for them, so none are made there).
"""

from django.db import migrations

COLUMNS = ("legal_last_name", "legal_first_name", "preferred_name")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS patient_{column}_prefix ON clinical_patient "
                f"(practice_id, UPPER({column}::text) text_pattern_ops)"
            )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(f"DROP INDEX IF EXISTS patient_{column}_prefix")


class Migration(migrations.Migration):
    dependencies = [("clinical", "0003_load_icd10_and_note_templates")]
    operations = [migrations.RunPython(forwards, backwards)]
