"""Clearinghouse pages: the connection settings (with "Test connection" and "Fetch host key"), the
transmission log, and "Sync now". Thin views: rules in services_clearinghouse, reads in
selectors_clearinghouse. Secrets are never rendered back (see forms_clearinghouse)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing import selectors_clearinghouse as selectors
from billing import services_clearinghouse as services
from billing.forms_clearinghouse import ClearinghouseConnectionForm, HostKeyFetchForm, TransmissionFilterForm
from billing.models import ClearinghouseConnection
from billing.sftp import SftpError, fetch_host_key, fingerprint, key_line
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

T = "billing/clearinghouse/"
PAGE_SIZE = 50


def _initial(row: ClearinghouseConnection | None) -> dict:
    if row is None:
        return {}
    names = [n for n in ClearinghouseConnectionForm.base_fields if n not in ClearinghouseConnectionForm.SECRET_FIELDS]
    return {name: getattr(row, name) for name in names}


def _render_settings(
    request: HttpRequest, form: ClearinghouseConnectionForm, status: int = 200, **extra
) -> HttpResponse:
    row = selectors.clearinghouse_connection_get()
    context = {
        "form": form,
        "connection": row,
        "has_password": bool(row and row.password_encrypted),
        "has_private_key": bool(row and row.private_key_encrypted),
        **extra,
    }
    return render(request, T + "settings.html", context, status=status)


@practice_view(Perm.BILLING_SETUP)
def clearinghouse_settings_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _render_settings(
            request, ClearinghouseConnectionForm(initial=_initial(selectors.clearinghouse_connection_get()))
        )
    form = ClearinghouseConnectionForm(request.POST)
    if form.is_valid():
        try:
            services.clearinghouse_connection_save(
                practice=request.practice, by=request.membership, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Clearinghouse connection saved.")
            return redirect("clearinghouse_settings", practice_slug=request.practice.slug)
    return _render_settings(request, form, status=400)


@practice_view(Perm.BILLING_SETUP)
@require_POST
def clearinghouse_test_view(request: HttpRequest) -> HttpResponse:
    """Connect with the saved settings and list the download folder; the outcome in words."""
    row = selectors.clearinghouse_connection_get()
    form = ClearinghouseConnectionForm(initial=_initial(row))
    if row is None:
        return _render_settings(request, form, status=400, test_error="Save the connection first, then test it.")
    try:
        files = services.clearinghouse_test(connection=row)
    except SftpError as exc:
        return _render_settings(request, form, test_error=str(exc))
    return _render_settings(request, form, test_files=files, test_ok=True)


@practice_view(Perm.BILLING_SETUP)
@require_POST
def clearinghouse_fetch_host_key_view(request: HttpRequest) -> HttpResponse:
    """Ask the host for its key and show the fingerprint for the admin to compare with the one the
    clearinghouse published. Nothing is saved here; the form keeps what was typed (never secrets)."""
    initial = {
        name: request.POST.get(name, "")
        for name in ClearinghouseConnectionForm.base_fields
        if name not in ClearinghouseConnectionForm.SECRET_FIELDS and name in request.POST
    }
    if "is_active" in initial:
        initial["is_active"] = request.POST.get("is_active") == "on"
    lookup = HostKeyFetchForm(request.POST)
    if not lookup.is_valid():
        form = ClearinghouseConnectionForm(initial=initial)
        return _render_settings(request, form, status=400, fetch_error="Enter the host and port first.")
    try:
        key = fetch_host_key(lookup.cleaned_data["host"], lookup.cleaned_data["port"])
    except SftpError as exc:
        return _render_settings(request, ClearinghouseConnectionForm(initial=initial), fetch_error=str(exc))
    if not initial.get("host_key", "").strip():
        initial["host_key"] = key_line(key)
    return _render_settings(
        request,
        ClearinghouseConnectionForm(initial=initial),
        fetched_key=key_line(key),
        fetched_fingerprint=fingerprint(key),
    )


@practice_view(Perm.BILLING_VIEW)
def transmission_log_view(request: HttpRequest) -> HttpResponse:
    filters = TransmissionFilterForm(request.GET or None)
    cleaned = filters.cleaned_data if request.GET and filters.is_valid() else {}
    rows = selectors.transmission_list(direction=cleaned.get("direction", ""), status=cleaned.get("status", ""))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in cleaned.items() if v})
    return render(
        request,
        T + "log.html",
        {
            "filters": filters,
            "page_obj": page,
            "querystring": query,
            "connection": selectors.clearinghouse_connection_get(),
            "listing_name": services.LISTING,
            "can_sync": request.membership.has_perm(Perm.BILLING_MANAGE),
            "can_setup": request.membership.has_perm(Perm.BILLING_SETUP),
        },
    )


@practice_view(Perm.BILLING_MANAGE)
@require_POST
def clearinghouse_sync_now_view(request: HttpRequest) -> HttpResponse:
    """Queue an upload and a download now instead of waiting for the 15-minute schedule."""
    from billing.tasks_clearinghouse import clearinghouse_download_task, clearinghouse_upload_task

    row = selectors.clearinghouse_connection_get()
    if row is None or not row.is_active:
        messages.error(request, "There is no active clearinghouse connection to sync.")
    else:
        practice_id = request.practice.pk
        transaction.on_commit(lambda: clearinghouse_upload_task.delay(practice_id=practice_id))
        transaction.on_commit(lambda: clearinghouse_download_task.delay(practice_id=practice_id))
        messages.success(request, "Sync queued: files are sent and collected in the background.")
    return redirect("transmission_log", practice_slug=request.practice.slug)
