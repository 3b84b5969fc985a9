"""Denials pages under /p/<slug>/billing/denials/: the work queue (open denials with the CARC in
words and a next step, filters, plus claims with no response), one denial (claim, lines with the
denied ones and their CAS/RARC explained, history, actions) and its appeal letter PDF.

Thin views: rules in services_denials, reads in selectors_denials, the letter in appeals.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing import carc
from billing import selectors_denials as selectors
from billing import services_denials as services
from billing.appeals import appeal_letter_pdf
from billing.models import DenialCase, Payer
from practice.audit import access_record
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

T = "billing/denials/"
PAGE_SIZE = 50
ACTIONS = [
    ("assign", "Assign"),
    ("note", "Add note"),
    ("appeal", "Appeal"),
    ("correct", "Corrected claim"),
    ("write_off", "Write off"),
    ("resolve", "Resolve"),
]


class DenialFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, label="Status", choices=[("", "All open"), *DenialCase.Status.choices])
    group = forms.ChoiceField(required=False, label="Reason", choices=[("", "Any reason"), *carc.REASON_GROUPS.items()])
    payer = forms.ChoiceField(required=False, label="Payer")
    assignee = forms.ChoiceField(required=False, label="Assigned to")
    age = forms.ChoiceField(
        required=False,
        label="Age (since the remittance)",
        choices=[("", "Any age")] + [(k, v[0]) for k, v in selectors.AGE_FILTERS.items()],
    )

    def __init__(self, *args, payers=(), members=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payer"].choices = [("", "All payers")] + [(str(p.public_id), p.name) for p in payers]
        self.fields["assignee"].choices = [("", "Anyone"), ("none", "Unassigned")] + [
            (str(m.public_id), m.user.display_name) for m in members
        ]

    def filters(self) -> selectors.DenialFilters:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return selectors.DenialFilters(
            group=data.get("group", ""),
            payer_id=data.get("payer", ""),
            assignee_id=data.get("assignee", ""),
            age=data.get("age", ""),
            status=data.get("status", ""),
        )


class DenialActionForm(forms.Form):
    action = forms.ChoiceField(choices=ACTIONS)
    assignee = forms.CharField(required=False)
    text = forms.CharField(required=False, widget=forms.Textarea, label="Note")
    reason = forms.CharField(required=False, max_length=200, label="Write-off reason")
    amount = forms.DecimalField(required=False, max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    payer_claim_number = forms.CharField(required=False, max_length=50, label="Payer claim number")


def _domain(exc: DomainError) -> None:
    if exc.code == "forbidden":
        raise PermissionDenied(exc.message) from exc
    if exc.code == "not_found":
        raise Http404(exc.message) from exc


def _case_or_404(case_id) -> DenialCase:
    try:
        return selectors.denial_get(case_id=case_id)
    except (DenialCase.DoesNotExist, ValueError) as exc:
        raise Http404("No such denial.") from exc


def _detail_redirect(request: HttpRequest, case: DenialCase) -> HttpResponse:
    return redirect("denial_detail", practice_slug=request.practice.slug, case_id=case.public_id)


@practice_view(Perm.BILLING_VIEW)
def denial_queue_view(request: HttpRequest) -> HttpResponse:
    payers = list(Payer.objects.order_by("name").only("public_id", "name", "timely_filing_days"))
    members = selectors.billing_members()
    form = DenialFilterForm(request.GET or None, payers=payers, members=members)
    filters = form.filters()
    today = timezone.localdate()
    queryset = selectors.denial_queue_qs(filters, today=today)
    summary = selectors.denial_queue_summary(queryset)
    paginator = Paginator(queryset, PAGE_SIZE)
    paginator.count = summary.count  # already counted by the summary: saves the pager's COUNT query
    page = paginator.get_page(request.GET.get("page"))
    silent = selectors.no_response_claims(payer_id=filters.payer_id)
    access_record(request=request, action="list", object_type="billing.denialcase", object_id="denial-queue")
    return render(
        request,
        T + "queue.html",
        {
            "form": form,
            "page_obj": page,
            "cases": selectors.denial_rows(page.object_list, today=today),
            "querystring": urlencode({k: v for k, v in request.GET.items() if k != "page" and v}),
            "summary": summary,
            "stale_days": selectors.STALE_DAYS,
            "status_label": dict(DenialCase.Status.choices).get(filters.status, ""),
            "no_response": silent,
            "no_response_total": sum((Decimal(c.total_cents) / 100 for c in silent), Decimal("0")),
            "no_response_cap": selectors.NO_RESPONSE_CAP,
        },
    )


def _line_rows(case: DenialCase) -> list[dict]:
    return [
        {
            "line": line,
            "adjustments": carc.explain_adjustments(line.adjustments),
            "remarks": [(code, carc.rarc_text(code)) for code in line.remarks or []],
        }
        for line in case.remittance_claim.lines.all()
    ]


def _render_detail(request: HttpRequest, case: DenialCase, *, form: DenialActionForm | None = None, status=200):
    rc = case.remittance_claim
    context = {
        "case": case,
        "claim": case.claim,
        "remit": rc,
        "claim_adjustments": carc.explain_adjustments(rc.adjustments),
        "claim_remarks": [(code, carc.rarc_text(code)) for code in rc.remarks or []],
        "remit_lines": _line_rows(case),
        "claim_lines": list(case.claim.lines.all()),
        "notes": list(case.notes.all()),
        "members": selectors.billing_members(),
        "can_manage": request.membership.has_perm(Perm.BILLING_MANAGE),
        "is_closed": case.status in services.CLOSED,
        "form": form or DenialActionForm(),
    }
    return render(request, T + "detail.html", context, status=status)


@practice_view(Perm.BILLING_VIEW)
def denial_detail_view(request: HttpRequest, case_id) -> HttpResponse:
    case = _case_or_404(case_id)
    access_record(request=request, action="view", target=case)
    return _render_detail(request, case)


@require_POST
@practice_view(Perm.BILLING_MANAGE)
def denial_action_view(request: HttpRequest, case_id) -> HttpResponse:
    case = _case_or_404(case_id)
    form = DenialActionForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, case, form=form, status=400)
    data = form.cleaned_data
    me = request.membership
    try:
        action = data["action"]
        if action == "assign":
            assignee = None
            if data["assignee"]:
                assignee = next((m for m in selectors.billing_members() if str(m.public_id) == data["assignee"]), None)
                if assignee is None:
                    raise DomainError("Assign the denial to an active billing team member.", field="assignee")
            services.denial_assign(case=case, by=me, assignee=assignee)
            messages.success(request, "Denial assigned." if assignee else "Denial unassigned.")
        elif action == "note":
            services.denial_add_note(case=case, by=me, text=data["text"])
            messages.success(request, "Note added.")
        elif action == "appeal":
            services.denial_appeal(case=case, by=me, note=data["text"])
            messages.success(request, "Marked appealed. Print the appeal letter and send it to the payer.")
            return redirect("appeal_letter_pdf", practice_slug=request.practice.slug, case_id=case.public_id)
        elif action == "correct":
            copy = services.denial_correct(case=case, by=me, payer_claim_number=data["payer_claim_number"])
            messages.success(request, f"Corrected claim {copy.control_number} created as a draft.")
            return redirect("claim_detail", practice_slug=request.practice.slug, claim_id=copy.public_id)
        elif action == "write_off":
            services.denial_write_off(case=case, by=me, reason=data["reason"], amount=data["amount"])
            messages.success(request, "Written off.")
        elif action == "resolve":
            services.denial_resolve(case=case, by=me, note=data["text"])
            messages.success(request, "Denial resolved.")
    except DomainError as exc:
        _domain(exc)
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _render_detail(request, selectors.denial_get(case_id=case.public_id), form=form, status=400)
    return _detail_redirect(request, case)


@practice_view(Perm.BILLING_VIEW)
def denial_appeal_pdf_view(request: HttpRequest, case_id) -> HttpResponse:
    case = _case_or_404(case_id)
    access_record(request=request, action="print", target=case)
    pdf = appeal_letter_pdf(case=case, by=request.membership)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="appeal-{case.claim.control_number}.pdf"'
    return response
