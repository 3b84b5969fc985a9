"""EDI files pages: the 837 files we generated (control numbers, claims, totals, status, pyx12
errors) with download and "Export ready claims", and the inbound files (999, 277CA, 835, 271) with
a manual upload and a detail page showing what each did. Thin views: services_export /
services_acks do the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.forms_files import InboundFileUploadForm
from billing.models import ClaimFile, InboundFile
from billing.services_acks import inbound_file_import
from billing.services_export import claims_export
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
    try:
        files = claims_export(practice=request.practice, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("x12_files", practice_slug=request.practice.slug)
    released = [f for f in files if f.status == ClaimFile.Status.RELEASED]
    invalid = [f for f in files if f.status == ClaimFile.Status.INVALID]
    if not files:
        messages.info(request, "No ready claims to export.")
    if released:
        count = sum(f.claim_count for f in released)
        messages.success(
            request,
            f"{len(released)} 837 file{'s' if len(released) != 1 else ''} released with {count} "
            f"claim{'s' if count != 1 else ''}; the claims are now submitted.",
        )
    for claim_file in invalid:
        first = claim_file.validation_errors[0]["message"] if claim_file.validation_errors else "see the file"
        messages.error(
            request,
            f"{claim_file.filename} failed validation and was NOT released; its {claim_file.claim_count} "
            f"claim{'s stay' if claim_file.claim_count != 1 else ' stays'} ready. First problem: {first}",
        )
    return redirect("x12_files", practice_slug=request.practice.slug)


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
