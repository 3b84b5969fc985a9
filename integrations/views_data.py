"""Settings → Import data (CSV upload, column mapping, dry run with progress, import) and
Settings → Export all data (owner only; built by Celery, downloadable once). Thin views: the
work is in integrations.csv_import and integrations.export."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from integrations import csv_import
from integrations.export import ExportGone, export_claim_download, export_request
from integrations.forms_data import ImportMappingForm, ImportUploadForm
from integrations.models import ExportJob, ImportJob
from practice.audit import access_record
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

SAMPLES = Path(__file__).resolve().parent / "sample_csv"
RUNNING_IMPORT = (ImportJob.Status.VALIDATING, ImportJob.Status.IMPORTING)
RUNNING_EXPORT = (ExportJob.Status.PENDING, ExportJob.Status.BUILDING)


def _kinds() -> list[dict]:
    return [
        {"value": value, "label": label, "columns": csv_import.COLUMNS[value]}
        for value, label in ImportJob.Kind.choices
    ]


@practice_view(Perm.DATA_IMPORT)
def import_home_view(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            limit = csv_import.max_upload_bytes()
            data = upload.read(limit + 1)
            try:
                job = csv_import.import_job_create(
                    by=request.membership, kind=form.cleaned_data["kind"], filename=upload.name, data=data
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return redirect("data_import_job", practice_slug=request.practice.slug, job_id=job.public_id)
        status = 400
    jobs = ImportJob.objects.select_related("created_by__user").defer("content").order_by("-created_at")[:20]
    return render(
        request, "integrations/import_home.html", {"form": form, "jobs": jobs, "kinds": _kinds()}, status=status
    )


@practice_view(Perm.DATA_IMPORT)
def import_template_view(request: HttpRequest) -> HttpResponse:
    """?kind=...: the kind's empty template, or (&sample=1) the sample file shipped with Tend."""
    kind = request.GET.get("kind") or ImportJob.Kind.PATIENTS
    if kind not in ImportJob.Kind.values:
        raise Http404
    if request.GET.get("sample"):
        body, filename = (SAMPLES / f"{kind}.csv").read_text(encoding="utf-8"), f"sample-{kind}.csv"
    else:
        body, filename = csv_import.template_csv(kind), f"tend-{kind}-template.csv"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _job_context(request: HttpRequest, job: ImportJob, form: ImportMappingForm | None = None) -> dict:
    report = job.report or {}
    return {
        "job": job,
        "form": form or ImportMappingForm(job=job),
        "can_map": job.status in (ImportJob.Status.UPLOADED, ImportJob.Status.VALIDATED)
        or (job.status == ImportJob.Status.FAILED and report.get("mode") != "import"),
        "is_running": job.status in RUNNING_IMPORT,
        "processed": csv_import.job_progress(job),
        "percent": int(100 * csv_import.job_progress(job) / job.total_rows) if job.total_rows else 0,
        "report": report,
        "errors": report.get("errors", []),
        "more_errors": max(0, report.get("error_count", 0) - len(report.get("errors", []))),
        "can_import": job.status == ImportJob.Status.VALIDATED and not report.get("error_count"),
    }


@practice_view(Perm.DATA_IMPORT)
def import_job_view(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("created_by__user"), public_id=job_id)
    form = None
    status = 200
    if request.method == "POST":
        form = ImportMappingForm(request.POST, job=job)
        if form.is_valid():
            try:
                csv_import.import_job_map_and_check(job=job, by=request.membership, mapping=form.mapping())
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("data_import_job", practice_slug=request.practice.slug, job_id=job.public_id)
        status = 400
    access_record(request=request, action="view", target=job)
    return render(request, "integrations/import_job.html", _job_context(request, job, form), status=status)


@practice_view(Perm.DATA_IMPORT)
def import_progress_view(request: HttpRequest, job_id: UUID) -> HttpResponse:
    """The htmx poll: the progress bar while running; a full reload once the job has finished."""
    job = get_object_or_404(ImportJob.objects.defer("content"), public_id=job_id)
    if job.status not in RUNNING_IMPORT:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "integrations/import_progress.html", _job_context(request, job))


@practice_view(Perm.DATA_IMPORT)
@require_POST
def import_run_view(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects, public_id=job_id)
    try:
        csv_import.import_job_start(job=job, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("data_import_job", practice_slug=request.practice.slug, job_id=job.public_id)


# --- Export -------------------------------------------------------------------------------------


@practice_view(Perm.DATA_EXPORT)
def export_home_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            job = export_request(by=request.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            access_record(request=request, action="export", target=job, reason="Full practice export requested")
            messages.success(request, "The export is being built. This page shows when it is ready.")
        return redirect("data_export", practice_slug=request.practice.slug)
    jobs = list(
        ExportJob.objects.select_related("requested_by__user", "downloaded_by__user").order_by("-created_at")[:20]
    )
    return render(
        request,
        "integrations/export_home.html",
        {"jobs": jobs, "is_building": any(j.status in RUNNING_EXPORT for j in jobs)},
    )


@practice_view(Perm.DATA_EXPORT)
def export_status_view(request: HttpRequest) -> HttpResponse:
    """The htmx poll of the export page: reload it once no export is queued or building."""
    if not ExportJob.objects.filter(status__in=RUNNING_EXPORT).exists():
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return HttpResponse(status=204)


@practice_view(Perm.DATA_EXPORT)
def export_download_view(request: HttpRequest, export_id: UUID) -> HttpResponse:
    job = get_object_or_404(ExportJob.objects, public_id=export_id)
    try:
        handle = export_claim_download(job=job, by=request.membership)
    except ExportGone as exc:
        return render(request, "integrations/export_gone.html", {"job": job, "message": exc.message}, status=410)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("data_export", practice_slug=request.practice.slug)
    access_record(request=request, action="export", target=job, reason="Full practice export downloaded")
    response = FileResponse(handle, as_attachment=True, filename=handle.name, content_type="application/zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
