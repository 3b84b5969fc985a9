"""835 remittance pages: list + upload, detail (claims, lines, CAS/CARC, RARCs, PLB) and the
unmatched work queue with match-by-control-number and dismiss. Thin: services_remittance posts."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.forms_files import InboundFileUploadForm
from billing.models import RemittanceClaim
from billing.selectors_remittance import (
    rejected_remittances,
    remittance_with_claims,
    remittances_recent,
    unmatched_count,
    unmatched_remittance_claims,
)
from billing.services_remittance import remittance_claim_dismiss, remittance_claim_match, remittance_import
from practice.audit import access_record
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

T = "billing/remittance/"


class MatchForm(forms.Form):
    control_number = forms.CharField(label="Claim control number (CLM01)", max_length=38)


def _list_page(request: HttpRequest, form: InboundFileUploadForm, status: int = 200) -> HttpResponse:
    access_record(request=request, action="list", object_type="billing.remittance", object_id="remittances")
    return render(
        request,
        T + "list.html",
        {
            "remittances": remittances_recent(),
            "unmatched": unmatched_count(),
            "form": form,
            "can_manage": request.membership.has_perm(Perm.BILLING_MANAGE),
        },
        status=status,
    )


@practice_view(Perm.BILLING_VIEW)
def remittance_list_view(request: HttpRequest) -> HttpResponse:
    return _list_page(request, InboundFileUploadForm())


@practice_view(Perm.BILLING_MANAGE)
@require_POST
def remittance_upload_view(request: HttpRequest) -> HttpResponse:
    form = InboundFileUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    result = remittance_import(
        practice=request.practice, content=form.cleaned_data["content"], filename=upload.name, by=request.membership
    )
    remittance = result.remittance
    if result.rejected:
        messages.error(request, f"{upload.name} was rejected; nothing was posted: {result.error}")
    elif result.duplicate:
        messages.info(request, f"{upload.name} was already posted (same payer and trace number); nothing posted again.")
    else:
        summary = result.summary()
        messages.success(
            request,
            f"Posted ${summary['total_paid']}: {summary['claims_matched']} claims matched ({summary['paid']} paid, "
            f"{summary['partially_paid']} partially paid, {summary['denied']} denied, {summary['reversed']} reversed), "
            f"{summary['unmatched']} unmatched.",
        )
    return redirect("remittance_detail", practice_slug=request.practice.slug, remittance_id=remittance.public_id)


@practice_view(Perm.BILLING_VIEW)
def remittance_detail_view(request: HttpRequest, remittance_id) -> HttpResponse:
    remittance = remittance_with_claims(remittance_id)
    if remittance is None:
        raise Http404
    access_record(request=request, action="view", target=remittance)
    claims = list(remittance.claims.all())
    outcomes = Counter(c.outcome for c in claims)
    totals = {
        "claims": len(claims),
        "unmatched": sum(1 for c in claims if not c.is_matched),
        "paid_amount": sum((c.paid_amount for c in claims), Decimal("0")),
        "outcomes": [(label, outcomes[value]) for value, label in RemittanceClaim.Outcome.choices if outcomes[value]],
    }
    return render(request, T + "detail.html", {"remittance": remittance, "claims": claims, "totals": totals})


@practice_view(Perm.BILLING_VIEW)
def unmatched_remittances_view(request: HttpRequest) -> HttpResponse:
    access_record(request=request, action="list", object_type="billing.remittanceclaim", object_id="unmatched")
    return render(
        request,
        T + "unmatched.html",
        {
            "items": unmatched_remittance_claims(),
            "rejected": rejected_remittances(),
            "form": MatchForm(),
            "can_manage": request.membership.has_perm(Perm.BILLING_MANAGE),
        },
    )


@practice_view(Perm.BILLING_MANAGE)
@require_POST
def remittance_claim_match_view(request: HttpRequest, remittance_claim_id) -> HttpResponse:
    rc = get_object_or_404(RemittanceClaim, public_id=remittance_claim_id)
    form = MatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the claim's control number.")
    else:
        try:
            remittance_claim_match(
                remittance_claim=rc, control_number=form.cleaned_data["control_number"], by=request.membership
            )
        except DomainError as exc:
            messages.error(request, f"{rc.claim_control_number}: {exc.message}")
        else:
            messages.success(request, f"{rc.claim_control_number} matched and posted.")
    return redirect("unmatched_remittances", practice_slug=request.practice.slug)


@practice_view(Perm.BILLING_MANAGE)
@require_POST
def remittance_claim_dismiss_view(request: HttpRequest, remittance_claim_id) -> HttpResponse:
    rc = get_object_or_404(RemittanceClaim, public_id=remittance_claim_id)
    try:
        remittance_claim_dismiss(remittance_claim=rc, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{rc.claim_control_number} dismissed from the queue.")
    return redirect("unmatched_remittances", practice_slug=request.practice.slug)
