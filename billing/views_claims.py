"""Claims pages under /p/<slug>/billing/: the biller's queue (filters, status tabs, scrub results
inline with the fix link, bulk actions), one claim (lines, diagnoses, coverage, providers,
findings, history, actions), the line editor, and the charge list.

Thin views: the rules live in services_claims / services_charges, the reads in selectors_claims.
Scrubbing (helper B3) and 837 export (helper B4) are called through their services.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from billing import cpt as cpt_catalog
from billing import selectors_claims as selectors
from billing import services_claims as services
from billing.forms_claims import (
    BulkActionForm,
    ClaimActionForm,
    ClaimHeaderForm,
    ClaimLineFormSet,
    QueueFilterForm,
)
from billing.models import Claim, Payer
from billing.views_files import start_export
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm
from practice.views.base import practice_view

logger = logging.getLogger(__name__)
T = "billing/claims/"
PAGE_SIZE = 50


def _domain(exc: DomainError) -> None:
    if exc.code == "forbidden":
        raise PermissionDenied(exc.message) from exc
    if exc.code == "not_found":
        raise Http404(exc.message) from exc


def _claim_or_404(claim_id) -> Claim:
    try:
        return selectors.claim_get(claim_id=claim_id)
    except (Claim.DoesNotExist, ValueError) as exc:
        raise Http404("No such claim.") from exc


def _url_or_blank(name: str, **kwargs) -> str:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return ""


def _detail_redirect(request: HttpRequest, claim: Claim) -> HttpResponse:
    return redirect("claim_detail", practice_slug=request.practice.slug, claim_id=claim.public_id)


def _queue_redirect(request: HttpRequest) -> HttpResponse:
    url = reverse("claim_queue", kwargs={"practice_slug": request.practice.slug})
    back = request.POST.get("querystring", "")
    return redirect(f"{url}?{back}" if back else url)


# --- Queue -------------------------------------------------------------------------------------


@practice_view(Perm.BILLING_VIEW)
def claim_queue_view(request: HttpRequest) -> HttpResponse:
    payers = list(Payer.objects.order_by("name").only("public_id", "name"))
    clinicians = list(
        Membership.objects.filter(billing_identity__isnull=False, is_active=True)
        .select_related("user")
        .order_by("user__full_name")
    )
    form = QueueFilterForm(request.GET or None, payers=payers, clinicians=clinicians)
    filters = form.filters()
    counts = selectors.claim_status_counts(filters)
    page = Paginator(selectors.claim_queue(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    access_record(request=request, action="list", object_type="billing.claim", object_id="claim-queue")
    params = {k: v for k, v in request.GET.items() if k not in ("page", "status") and v}
    tab_base = urlencode(params)
    tabs = [("", "All", counts.get("all", 0))] + [
        (value, label, counts.get(value, 0))
        for value, label in Claim.Status.choices
        if counts.get(value) or value in (Claim.Status.DRAFT, Claim.Status.READY, Claim.Status.REJECTED)
    ]
    return render(
        request,
        T + "queue.html",
        {
            "form": form,
            "filters": filters,
            "tabs": tabs,
            "tab_base": tab_base,
            "page_obj": page,
            "claims": page.object_list,
            "querystring": urlencode({k: v for k, v in request.GET.items() if k != "page" and v}),
            "can_manage": request.membership.has_perm(Perm.BILLING_MANAGE),
            "bulk_form": BulkActionForm(),
            "unbilled_count": selectors.charge_counts().get("unbilled", 0),
        },
    )


def _export(request: HttpRequest, claim_ids: list[int]) -> HttpResponse:
    """Queue the export of the selected ready claims (all ready claims when none are selected); the
    EDI files page shows it running, then its files."""
    if start_export(request, claim_ids=claim_ids or None) is None:
        return _queue_redirect(request)
    return redirect("x12_files", practice_slug=request.practice.slug)


@require_POST
@practice_view(Perm.BILLING_MANAGE)
def claim_bulk_view(request: HttpRequest) -> HttpResponse:
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an action.")
        return _queue_redirect(request)
    action = form.cleaned_data["action"]
    practice_id = request.practice.pk
    me = request.membership
    if action == "build":
        try:
            claims = services.claims_build(practice_id=practice_id, by=me)
        except DomainError as exc:
            _domain(exc)
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"{len(claims)} draft claim{'s' if len(claims) != 1 else ''} built."
                if claims
                else "No unbilled charges.",
            )
        return _queue_redirect(request)
    claims = selectors.claims_by_public_ids(request.POST.getlist("claims"))
    if not claims and action != "export":
        messages.error(request, "Select claims first.")
        return _queue_redirect(request)
    ids = [c.pk for c in claims]
    if action == "scrub":
        try:
            from billing.tasks_scrub import claims_scrub_batch_task
        except ImportError:
            messages.error(request, "The claim scrubber is not available yet.")
            return _queue_redirect(request)
        claims_scrub_batch_task.delay(practice_id=practice_id, claim_ids=ids)
        messages.success(request, f"Scrubbing {len(ids)} claim{'s' if len(ids) != 1 else ''}.")
    elif action == "ready":
        result = services.claims_mark_ready(practice_id=practice_id, claim_ids=ids, by=me)
        if result.ready:
            messages.success(request, f"{len(result.ready)} claim{'s' if len(result.ready) != 1 else ''} ready.")
        if result.blocked:
            messages.error(
                request,
                f"{len(result.blocked)} claim{'s' if len(result.blocked) != 1 else ''} not ready: "
                + next(iter(result.blocked.values()))[0],
            )
    elif action == "export":
        return _export(request, ids)
    elif action == "void":
        done, refused = 0, []
        for claim in claims:
            try:
                services.claim_void(claim=claim, by=me)
                done += 1
            except DomainError as exc:
                _domain(exc)
                refused.append(f"{claim.control_number}: {exc.message}")
        if done:
            messages.success(request, f"{done} claim{'s' if done != 1 else ''} voided (or void claims created).")
        if refused:
            messages.error(request, "Not voided: " + "; ".join(refused[:3]))
    return _queue_redirect(request)


# --- One claim ----------------------------------------------------------------------------------


def _line_rows(claim: Claim) -> list[dict]:
    return [
        {
            "line": line,
            "label": cpt_catalog.cpt_label(line.cpt),
            "pointed": [
                claim.diagnosis_codes[p - 1] for p in line.diagnosis_pointers if 0 < p <= len(claim.diagnosis_codes)
            ],
        }
        for line in claim.lines.all()
    ]


def _render_detail(request: HttpRequest, claim: Claim, *, form: ClaimActionForm | None = None, status: int = 200):
    findings = list(claim.findings.all())
    from clinical.models import DiagnosisCode

    descriptions = dict(DiagnosisCode.objects.filter(code__in=claim.diagnosis_codes).values_list("code", "description"))
    rendering = getattr(claim.rendering, "billing_identity", None) if claim.rendering_id else None
    context = {
        "claim": claim,
        "lines": _line_rows(claim),
        "diagnoses": [(i, code, descriptions.get(code, "")) for i, code in enumerate(claim.diagnosis_codes, 1)],
        "findings": findings,
        "errors": [f for f in findings if f.severity == "error"],
        "warnings": [f for f in findings if f.severity == "warning"],
        "events": list(claim.events.all()),
        "replacements": list(claim.replacements.all()),
        "coverage": claim.coverage,
        "rendering_identity": rendering,
        "can_manage": request.membership.has_perm(Perm.BILLING_MANAGE),
        "form": form or ClaimActionForm(),
        "file_url": _url_or_blank(
            "x12_file_download", practice_slug=request.practice.slug, file_id=claim.claim_file.public_id
        )
        if claim.claim_file_id
        else "",
        "is_at_payer": claim.status in services.AT_PAYER,
        "is_adjudicated": claim.status in services.ADJUDICATED,
    }
    return render(request, T + "detail.html", context, status=status)


@practice_view(Perm.BILLING_VIEW)
def claim_detail_view(request: HttpRequest, claim_id) -> HttpResponse:
    claim = _claim_or_404(claim_id)
    access_record(request=request, action="view", target=claim)
    return _render_detail(request, claim)


@require_POST
@practice_view(Perm.BILLING_MANAGE)
def claim_action_view(request: HttpRequest, claim_id) -> HttpResponse:
    claim = _claim_or_404(claim_id)
    form = ClaimActionForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, claim, form=form, status=400)
    action = form.cleaned_data["action"]
    icn = form.cleaned_data["payer_claim_number"]
    me = request.membership
    try:
        if action == "scrub":
            try:
                from billing.services_scrub import claim_scrub
            except ImportError as exc:
                raise DomainError("The claim scrubber is not available yet.") from exc
            result = claim_scrub(claim=claim, by=me)
            n_err, n_warn = len(result.errors), len(result.warnings)
            text = f"Scrubbed: {n_err} error{'s' if n_err != 1 else ''}, {n_warn} warning{'s' if n_warn != 1 else ''}."
            (messages.success if not n_err else messages.warning)(request, text)
        elif action == "ready":
            services.claim_mark_ready(claim=claim, by=me)
            messages.success(request, "Claim ready to submit.")
        elif action == "reopen":
            services.claim_transition(claim=claim, to=Claim.Status.DRAFT, by=me, note=form.cleaned_data["note"])
            messages.success(request, "Claim back to draft.")
        elif action == "correct":
            copy = services.claim_correct(claim=claim, by=me, payer_claim_number=icn)
            messages.success(request, f"Corrected claim {copy.control_number} created as a draft.")
            return _detail_redirect(request, copy)
        elif action == "void":
            result = services.claim_void(claim=claim, by=me, payer_claim_number=icn, note=form.cleaned_data["note"])
            if result.pk != claim.pk:
                messages.success(request, f"Void claim {result.control_number} created; send it to the payer.")
                return _detail_redirect(request, result)
            messages.success(request, "Claim voided.")
        elif action == "secondary":
            copy = services.claim_build_secondary(primary_claim=claim, by=me)
            messages.success(request, f"Secondary claim {copy.control_number} created.")
            return _detail_redirect(request, copy)
    except DomainError as exc:
        _domain(exc)
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _render_detail(request, selectors.claim_get(claim_id=claim.public_id), form=form, status=400)
    return _detail_redirect(request, claim)


@practice_view(Perm.BILLING_MANAGE)
def claim_edit_view(request: HttpRequest, claim_id) -> HttpResponse:
    claim = _claim_or_404(claim_id)
    access_record(request=request, action="view", target=claim)
    lines = list(claim.lines.all())
    initial_lines = [
        {
            "line_id": line.pk,
            "cpt": line.cpt,
            "modifiers": ", ".join(line.modifiers),
            "units": line.units,
            "diagnosis_pointers": ", ".join(str(p) for p in line.diagnosis_pointers),
            "place_of_service": line.place_of_service,
        }
        for line in lines
    ]
    header_initial = {"diagnosis_codes": ", ".join(claim.diagnosis_codes), "place_of_service": claim.place_of_service}
    if claim.status != Claim.Status.DRAFT:
        messages.error(request, "Only a draft claim can be edited.")
        return _detail_redirect(request, claim)
    status = 200
    if request.method == "POST":
        header = ClaimHeaderForm(request.POST, prefix="claim")
        formset = ClaimLineFormSet(request.POST, prefix="lines")
        if header.is_valid() and formset.is_valid():
            line_ids = {line.pk for line in lines}
            changes = [
                {
                    "id": data["line_id"],
                    "cpt": data["cpt"],
                    "modifiers": data["modifiers"],
                    "units": data["units"],
                    "diagnosis_pointers": data["diagnosis_pointers"],
                    "place_of_service": data.get("place_of_service", ""),
                }
                for data in formset.cleaned_data
                if data and data["line_id"] in line_ids
            ]
            try:
                services.claim_edit_lines(
                    claim=claim,
                    by=request.membership,
                    lines=changes,
                    diagnosis_codes=header.cleaned_data["diagnosis_codes"],
                    place_of_service=header.cleaned_data["place_of_service"],
                )
            except DomainError as exc:
                _domain(exc)
                header.add_error(None, exc.message)
            else:
                messages.success(request, "Claim updated. Scrub it again before marking it ready.")
                return _detail_redirect(request, claim)
        status = 400
    else:
        header = ClaimHeaderForm(initial=header_initial, prefix="claim")
        formset = ClaimLineFormSet(initial=initial_lines, prefix="lines")
    rows = [
        {"form": form, "line": line, "label": cpt_catalog.cpt_label(line.cpt)}
        for form, line in zip(formset.forms, lines, strict=False)
    ]
    return render(
        request,
        T + "edit.html",
        {"claim": claim, "header": header, "formset": formset, "rows": rows, "modifiers": cpt_catalog.MODIFIERS},
        status=status,
    )


# --- Charges ------------------------------------------------------------------------------------


@practice_view(Perm.BILLING_VIEW)
def charge_list_view(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in ("", "insurance", "patient"):
        kind = ""
    charges = selectors.charge_list(kind=kind)
    access_record(request=request, action="list", object_type="billing.charge", object_id="charge-list")
    return render(
        request,
        T + "charges.html",
        {
            "charges": charges,
            "kind": kind,
            "counts": selectors.charge_counts(),
            "can_manage": request.membership.has_perm(Perm.BILLING_MANAGE),
            "bulk_form": BulkActionForm(initial={"action": "build"}),
        },
    )
