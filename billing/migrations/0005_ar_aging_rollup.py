"""Pre-aggregated A/R aging (billing.ar_rollup), and the ledger index its live part reads: the
entries inserted since the cells were built (PostgreSQL, built concurrently)."""

import django.db.models.deletion
from django.db import migrations, models

from practice.db_indexes import concurrent_indexes

INDEXES = {
    "ledger_practice_created": "ON billing_ledgerentry (practice_id, created_at)",
}


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("billing", "0004_claim_export_request"),
        ("practice", "0002_audit_append_only_triggers"),
    ]

    operations = [
        migrations.CreateModel(
            name="ARRollupState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("through_on", models.DateField()),
                ("entries_before", models.DateTimeField()),
                ("live_entry_ids", models.JSONField(default=list)),
                ("built_at", models.DateTimeField()),
                ("build_seconds", models.FloatField(default=0)),
                (
                    "practice",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="practice.practice"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ARAgingCell",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("account", models.CharField(max_length=20)),
                ("payer_id", models.BigIntegerField(blank=True, null=True)),
                ("patient_id", models.BigIntegerField(blank=True, null=True)),
                ("start_on", models.DateField()),
                ("amount", models.DecimalField(decimal_places=2, max_digits=14)),
                ("groups", models.PositiveIntegerField(default=0)),
                (
                    "practice",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="practice.practice"
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["practice", "account", "patient_id"], name="araging_cell_lookup")],
            },
        ),
        concurrent_indexes(INDEXES),
    ]
