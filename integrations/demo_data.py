"""Demo data for the import and export pages (for seed_demo): the shipped sample CSV files imported
through the real import (patients, then appointments and opening balances) by the practice
admin, and one ready full export for the owner. Idempotent: a second run finds the external ids
already imported (every row unchanged) and an export already there."""

from __future__ import annotations

from pathlib import Path

from integrations import csv_import
from integrations.export import export_build
from integrations.models import ExportJob, ImportJob

SAMPLES = Path(__file__).resolve().parent / "sample_csv"
KINDS = (ImportJob.Kind.PATIENTS, ImportJob.Kind.APPOINTMENTS, ImportJob.Kind.BALANCES)


def seed_data_demo(*, admin, owner) -> dict[str, str]:
    """Call inside the practice's scope (Cedar: the samples name its clinicians, location and
    appointment types). Returns kind -> final status, plus "export" -> the export's status."""
    done: dict[str, str] = {}
    for kind in KINDS:
        data = (SAMPLES / f"{kind}.csv").read_bytes()
        if ImportJob.objects.filter(kind=kind, filename=f"{kind}.csv", status=ImportJob.Status.IMPORTED).exists():
            done[kind] = ImportJob.Status.IMPORTED
            continue
        job = csv_import.import_job_create(by=admin, kind=kind, filename=f"{kind}.csv", data=data)
        for dry_run, status in ((True, ImportJob.Status.VALIDATING), (False, ImportJob.Status.IMPORTING)):
            ImportJob.objects.filter(pk=job.pk).update(status=status, report=csv_import.QUEUED)
            job = csv_import.import_job_process(job_id=job.pk, dry_run=dry_run)
            if job.report["error_count"]:
                break
        done[kind] = job.status
    export = ExportJob.objects.filter(status__in=(ExportJob.Status.READY, ExportJob.Status.DOWNLOADED)).first()
    if export is None:
        export = ExportJob.objects.create(practice_id=owner.practice_id, requested_by=owner)
        export = export_build(export_id=export.pk)
    done["export"] = export.status
    return done
