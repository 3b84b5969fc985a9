"""EDI files pages: the 837 files we generated (control numbers, claims, totals, status, pyx12
errors) with download and "Export ready claims", and the inbound files (999, 277CA, 835, 271) with
a manual upload and a detail page showing what each did. Thin views: services_export /
services_acks do the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing import selectors_exports
from billing.forms_files import InboundFileUploadForm
from billing.models import ClaimExportRequest, ClaimFile, InboundFile
from billing.services_acks import inbound_file_import
from billing.services_export import ExportAlreadyRunning, claims_export_request
from practice.audit import access_record
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

T = "billing/files/"
PAGE_SIZE = 25


def _files_page(request: HttpRequest, form: InboundFileUploadForm, status: int = 200) -> HttpResponse:
    claim_files = Paginator(
        ClaimFile.objects.select_related("payer").order_by("-created_at", "-id").defer("content"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for claim_file in claim_files.object_list:
        claim_file.total_display = f"${claim_file.total_cents / 100:,.2f}"
    inbound = list(InboundFile.objects.order_by("-created_at", "-id").defer("content")[:PAGE_SIZE])
    access_record(request=request, action="list", object_type="billing.claimfile", object_id="x12-files")
    return render(
        request,
        T + "list.html",
        {
            "page_obj": claim_files,
            "claim_files": claim_files.object_list,
            "inbound_files": inbound,
            "open_exports": selectors_exports.export_requests_open(),
            "recent_exports": selectors_exports.export_requests_recent(),
            "form": form,
            "can_manage": request.membership.has_perm(Perm.BILLING_MANAGE),
        },
        status=status,
    )


@practice_view(Perm.BILLING_VIEW)
def x12_files_view(request: HttpRequest) -> HttpResponse:
    return _files_page(request, InboundFileUploadForm())


@practice_view(Perm.BILLING_MANAGE)
@require_POST
def x12_files_export_view(request: HttpRequest) -> HttpResponse:
    start_export(request, claim_ids=None)
    return redirect("x12_files", practice_slug=request.practice.slug)


def start_export(request: HttpRequest, *, claim_ids: list[int] | None) -> ClaimExportRequest | None:
    """Queue the export (a worker writes the files) and say so; the files page shows its progress."""
    try:
        export_request = claims_export_request(practice=request.practice, by=request.membership, claim_ids=claim_ids)
    except ExportAlreadyRunning as exc:
        messages.info(request, exc.message)
        return None
    except DomainError as exc:
        (messages.info if exc.code == "nothing_ready" else messages.error)(request, exc.message)
        return None
    messages.success(request, "837 export started. The files appear on this page when they are written.")
    return export_request


@practice_view(Perm.BILLING_VIEW)
def x12_export_status_view(request: HttpRequest, request_id) -> HttpResponse:
    """The htmx poll of one export request: its row while queued or running; once it has finished,
    a full reload of the page, which lists its files or its error."""
    try:
        export_request = selectors_exports.export_request_get(request_id)
    except ClaimExportRequest.DoesNotExist:
        raise Http404("No such export.") from None
    if not export_request.is_open:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, T + "export_request.html", {"export": export_request})


@practice_view(Perm.BILLING_VIEW)
def x12_file_download_view(request: HttpRequest, file_id) -> HttpResponse:
    claim_file = get_object_or_404(ClaimFile, public_id=file_id)
    access_record(request=request, action="export", target=claim_file)
    response = HttpResponse(claim_file.content, content_type="application/edi-x12")
    response["Content-Disposition"] = f'attachment; filename="{claim_file.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@practice_view(Perm.BILLING_MANAGE)
@require_POST
def inbound_file_upload_view(request: HttpRequest) -> HttpResponse:
    form = InboundFileUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _files_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    try:
        row = inbound_file_import(
            practice=request.practice,
            filename=upload.name,
            content=form.cleaned_data["content"],
            by=request.membership,
        )
    except DomainError as exc:
        form.add_error("file", exc.message)
        return _files_page(request, form, status=400)
    if row.status == InboundFile.Status.REJECTED:
        messages.error(request, f"{row.filename} could not be read: {row.error}")
    else:
        messages.success(request, f"{row.filename} imported ({row.get_kind_display()}).")
    return redirect("inbound_file_detail", practice_slug=request.practice.slug, inbound_id=row.public_id)


@practice_view(Perm.BILLING_VIEW)
def inbound_file_detail_view(request: HttpRequest, inbound_id) -> HttpResponse:
    row = get_object_or_404(InboundFile.objects.select_related("received_by__user"), public_id=inbound_id)
    access_record(request=request, action="view", target=row)
    summary = row.summary or {}
    return render(
        request,
        T + "inbound_detail.html",
        {
            "inbound": row,
            "transactions": summary.get("transactions", []),
            "claim_results": summary.get("claims", []),
            "summary": summary,
        },
    )
