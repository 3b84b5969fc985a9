"""Patient balance page, payments, refunds, statements and superbills (helper R2, issue 7)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from billing import selectors_patient_billing as sel
from billing import services_patient_billing as svc
from billing.models import PatientPayment, Statement
from billing.statements import statement_pdf_bytes, superbill_pdf_bytes
from clinical.views.base import patient_view
from practice.audit import access_record
from practice.errors import DomainError
from practice.permissions import Perm, role_has_perm
from practice.views.base import practice_view

T = "billing/patient/"


class PaymentForm(forms.Form):
    amount = forms.DecimalField(min_value=0.01, max_digits=12, decimal_places=2)
    method = forms.ChoiceField(choices=PatientPayment.Method.choices)
    reference = forms.CharField(max_length=60, required=False, help_text="Check number, card last 4, receipt.")
    received_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    charges = forms.MultipleChoiceField(
        required=False, help_text="Leave empty to pay the oldest charges first.", widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, open_items=(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["charges"].choices = [
            (str(c.public_id), f"{c.service_date:%m/%d/%Y} {c.description or c.cpt} — ${due} owing")
            for c, due in open_items
        ]


class RefundForm(forms.Form):
    amount = forms.DecimalField(min_value=0.01, max_digits=12, decimal_places=2)
    method = forms.ChoiceField(choices=PatientPayment.Method.choices)
    reference = forms.CharField(max_length=60, required=False)


def _can_refund(request: HttpRequest) -> bool:
    return role_has_perm(request.membership.role, Perm.BILLING_MANAGE)


def _show_error(form: forms.Form, exc: DomainError) -> None:
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, exc.message)


@patient_view(Perm.COVERAGE_MANAGE)
def patient_balance_view(request: HttpRequest, patient) -> HttpResponse:
    access_record(
        request=request,
        action="view",
        object_type="billing.patient_balance",
        object_id=str(patient.public_id),
        patient_id=patient.public_id,
    )
    open_items = sel.open_patient_charges(patient=patient)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    back = redirect("patient_balance", practice_slug=request.practice.slug, patient_id=patient.public_id)
    payment_form = PaymentForm(request.POST if action == "pay" else None, open_items=open_items)
    refund_form = RefundForm(request.POST if action == "refund" else None)
    if action == "pay" and payment_form.is_valid():
        data = payment_form.cleaned_data
        chosen = None
        if data["charges"]:
            by_id = {str(c.public_id): c for c, _ in open_items}
            chosen = [by_id[pid] for pid in data["charges"] if pid in by_id]
        try:
            svc.payment_record(
                patient=patient,
                amount=data["amount"],
                method=data["method"],
                reference=data["reference"],
                received_on=data["received_on"],
                charges=chosen,
                by=request.membership,
            )
        except DomainError as exc:
            _show_error(payment_form, exc)
        else:
            messages.success(request, f"Payment of ${data['amount']} recorded.")
            return back
    elif action == "refund":
        if not _can_refund(request):
            raise Http404
        if refund_form.is_valid():
            data = refund_form.cleaned_data
            try:
                svc.refund_record(
                    patient=patient,
                    amount=data["amount"],
                    method=data["method"],
                    reference=data["reference"],
                    by=request.membership,
                )
            except DomainError as exc:
                _show_error(refund_form, exc)
            else:
                messages.success(request, f"Refund of ${data['amount']} recorded.")
                return back
    elif action == "apply_credit":
        svc.credit_apply(patient=patient, by=request.membership)
        messages.success(request, "Credit applied to open charges.")
        return back
    elif action == "statement":
        statement = svc.statement_issue(patient=patient, period_end=timezone.localdate(), by=request.membership)
        messages.success(request, f"Statement issued: balance ${statement.balance_due}.")
        return back
    today = timezone.localdate()
    context = {
        "patient": patient,
        "balance": sel.patient_balance(patient=patient),
        "credit": sel.patient_credit_available(patient=patient),
        "insurance_pending": sel.insurance_pending(patient=patient),
        "open_items": open_items,
        "activity": sel.patient_activity(patient=patient),
        "payments": sel.patient_payments(patient=patient),
        "statements": sel.statements_for(patient=patient),
        "payment_form": payment_form,
        "refund_form": refund_form,
        "can_refund": _can_refund(request),
        "superbill_start": date(today.year, 1, 1),
        "superbill_end": today,
    }
    return render(request, T + "balance.html", context)


@patient_view(Perm.COVERAGE_MANAGE)
def statement_pdf_view(request: HttpRequest, patient, statement_id: Any) -> HttpResponse:
    statement = Statement.objects.filter(patient=patient, public_id=statement_id).select_related("patient").first()
    if statement is None:
        raise Http404
    access_record(request=request, action="export", target=statement, patient_id=patient.public_id)
    response = HttpResponse(statement_pdf_bytes(statement=statement), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="statement-{patient.mrn}-{statement.period_end}.pdf"'
    return response


def _date_param(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Http404 from exc


@patient_view(Perm.COVERAGE_MANAGE)
def superbill_pdf_view(request: HttpRequest, patient) -> HttpResponse:
    today = timezone.localdate()
    end = _date_param(request.GET.get("end"), today)
    start = _date_param(request.GET.get("start"), end - timedelta(days=365))
    if start > end:
        start, end = end, start
    access_record(
        request=request,
        action="export",
        object_type="billing.superbill",
        object_id=str(patient.public_id),
        patient_id=patient.public_id,
    )
    response = HttpResponse(superbill_pdf_bytes(patient=patient, start=start, end=end), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="superbill-{patient.mrn}-{start}-{end}.pdf"'
    return response


@practice_view(Perm.COVERAGE_MANAGE)
def appointment_copay_view(request: HttpRequest, appointment_id: Any) -> HttpResponse:
    """The check-in copay: recorded against the appointment (see services.copay_collect)."""
    from scheduling.models import Appointment

    appointment = Appointment.objects.filter(public_id=appointment_id).first()
    if appointment is None:
        raise Http404
    back = redirect("appointment_detail", practice_slug=request.practice.slug, appointment_id=appointment.public_id)
    if request.method != "POST":
        return back
    attendee = (
        appointment.attendees.select_related("patient").filter(patient__public_id=request.POST.get("patient")).first()
    )
    if attendee is None:
        raise Http404
    form = RefundForm(request.POST)  # same fields: amount, method, reference
    if not form.is_valid():
        messages.error(request, "Enter the copay amount and how it was paid.")
        return back
    try:
        svc.copay_collect(
            appointment=appointment,
            patient=attendee.patient,
            amount=form.cleaned_data["amount"],
            method=form.cleaned_data["method"],
            reference=form.cleaned_data["reference"],
            by=request.membership,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Copay of ${form.cleaned_data['amount']} recorded.")
    return back
