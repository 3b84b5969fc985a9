"""On PostgreSQL, a signed note's content cannot be changed or deleted, even by raw SQL from the
application role; addenda can never be changed or deleted. (SPEC 3; security.md "Signed notes".)
"""

from django.db import migrations

FROZEN = (
    "practice_id", "public_id", "patient_id", "author_id", "template_id", "kind", "session_on",
    "start_time", "end_time", "service_code", "modality", "place_of_service", "location_id",
    "participants", "content", "risk_ideation", "risk_plan", "risk_intent", "risk_means",
    "risk_protective_factors", "risk_level", "interventions", "plan", "signed_at", "content_hash",
)

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION tend_signed_note_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'signed note % cannot be deleted', OLD.id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status <> 'draft' THEN
        IF NEW.status = 'draft' THEN
            RAISE EXCEPTION 'signed note % cannot return to draft', OLD.id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF ROW({", ".join("NEW." + c for c in FROZEN)}) IS DISTINCT FROM ROW({", ".join("OLD." + c for c in FROZEN)}) THEN
            RAISE EXCEPTION 'signed note % is immutable: add an addendum', OLD.id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION tend_addendum_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'note addenda cannot be changed or deleted' USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTIONS)
        cursor.execute(
            "CREATE TRIGGER clinical_progressnote_signed_guard BEFORE UPDATE OR DELETE ON clinical_progressnote "
            "FOR EACH ROW EXECUTE FUNCTION tend_signed_note_guard();"
        )
        cursor.execute(
            "CREATE TRIGGER clinical_noteaddendum_guard BEFORE UPDATE OR DELETE ON clinical_noteaddendum "
            "FOR EACH ROW EXECUTE FUNCTION tend_addendum_guard();"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS clinical_progressnote_signed_guard ON clinical_progressnote;")
        cursor.execute("DROP TRIGGER IF EXISTS clinical_noteaddendum_guard ON clinical_noteaddendum;")
        cursor.execute("DROP FUNCTION IF EXISTS tend_signed_note_guard(); DROP FUNCTION IF EXISTS tend_addendum_guard();")


class Migration(migrations.Migration):
    dependencies = [("clinical", "0001_clinical_record")]
    operations = [migrations.RunPython(forwards, backwards)]
