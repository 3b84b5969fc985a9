"""Data: the ICD-10-CM behavioural-health code list, and the built-in note templates for every
existing practice (new practices get them from clinical.services.note_templates_install_builtin)."""

import csv
from pathlib import Path

from django.db import migrations

CODES = Path(__file__).resolve().parent.parent / "data" / "icd10cm_behavioral.csv"


def load_codes(apps, schema_editor):
    DiagnosisCode = apps.get_model("clinical", "DiagnosisCode")
    with CODES.open(newline="") as fh:
        rows = [
            DiagnosisCode(code=r["code"], description=r["description"], is_billable=r["is_billable"] == "1")
            for r in csv.DictReader(fh)
        ]
    DiagnosisCode.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)


def install_templates(apps, schema_editor):
    from clinical.note_templates import BUILTIN_TEMPLATES

    Practice = apps.get_model("practice", "Practice")
    NoteTemplate = apps.get_model("clinical", "NoteTemplate")
    for practice in Practice.objects.all():
        for spec in BUILTIN_TEMPLATES:
            # apps.get_model gives an unscoped manager: filter by practice by hand
            NoteTemplate._base_manager.get_or_create(
                practice_id=practice.pk,
                name=spec["name"],
                defaults={
                    "kind": spec["kind"],
                    "description": spec["description"],
                    "sections": spec["sections"],
                    "default_service_code": spec["default_service_code"],
                    "includes_risk_assessment": True,
                    "is_builtin": True,
                },
            )


class Migration(migrations.Migration):
    dependencies = [("clinical", "0002_note_immutability_triggers"), ("practice", "0002_audit_append_only_triggers")]
    operations = [
        migrations.RunPython(load_codes, migrations.RunPython.noop),
        migrations.RunPython(install_templates, migrations.RunPython.noop),
    ]
