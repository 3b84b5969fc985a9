"""AR dashboard and revenue-leakage report (issue 7, helper R4), with CSV exports. Thin views: the
numbers come from billing.selectors_ar / billing.metrics (formulas in billing.md §6)."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from billing import metrics, selectors_ar
from practice.audit import access_record
from practice.permissions import Perm
from practice.views.base import practice_view

T = "billing/ar/"
PERIODS = selectors_ar.PERIODS
DEFAULT_PERIOD = selectors_ar.DEFAULT_PERIOD


def _parse_date(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _window(request: HttpRequest) -> tuple[date, date, date, str]:
    """As-of date (default today, never in the future) and the period ending on it."""
    today = timezone.localdate()
    as_of = min(_parse_date(request.GET.get("as_of"), today), today)
    period = request.GET.get("period") or DEFAULT_PERIOD
    if period not in dict(PERIODS):
        period = DEFAULT_PERIOD
    start, end = selectors_ar.window(as_of, period)
    return as_of, start, end, period


@practice_view(Perm.AR_VIEW_DASHBOARD)
def ar_dashboard_view(request: HttpRequest) -> HttpResponse:
    as_of, start, end, period = _window(request)
    dash = selectors_ar.ar_dashboard(as_of=as_of, start=start, end=end, practice_id=request.practice.id)
    if dash.aging.by_patient:  # patient names with balances: a PHI list read
        access_record(request=request, action="list", object_type="clinical.patient", object_id="ar-patient-aging")
    return render(
        request,
        T + "dashboard.html",
        {
            "dash": dash,
            "periods": PERIODS,
            "period": period,
            "buckets": metrics.BUCKET_LABELS,
            "querystring": request.GET.urlencode(),
        },
    )


def _csv_response(filename: str) -> tuple[HttpResponse, csv.writer]:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response, csv.writer(response)


def _pct(value) -> str:
    return "" if value is None else f"{value}"


def _m(value) -> str:
    """Money as a plain 2-decimal string (SQLite sums may come back without the scale)."""
    return f"{Decimal(value or 0):.2f}"


@practice_view(Perm.AR_VIEW_DASHBOARD)
def ar_dashboard_csv_view(request: HttpRequest) -> HttpResponse:
    as_of, start, end, _period = _window(request)
    d = selectors_ar.ar_dashboard(as_of=as_of, start=start, end=end, practice_id=request.practice.id)
    response, w = _csv_response(f"ar-dashboard-{as_of.isoformat()}.csv")
    w.writerow(["section", "name", "value", "detail"])
    w.writerow(["summary", "as_of", as_of.isoformat(), f"period {start.isoformat()} to {end.isoformat()}"])
    w.writerow(["summary", "insurance_ar", _m(d.totals.insurance), ""])
    w.writerow(["summary", "patient_ar", _m(d.totals.patient), ""])
    w.writerow(["summary", "total_ar", _m(d.totals.total), ""])
    w.writerow(["summary", "days_in_ar", _pct(d.days_in_ar), "gross, last 90 days (MGMA)"])
    w.writerow(["summary", "ar_over_90_pct", _pct(d.aging.over_90_percent), "HFMA MAP AR-1"])
    for name, ratio in (
        ("denial_rate_pct", d.denial),
        ("first_pass_resolution_pct", d.first_pass),
        ("clean_claim_rate_pct", d.clean_claims),
    ):
        w.writerow(["summary", name, _pct(ratio.percent), f"{ratio.numerator}/{ratio.denominator}"])
    ncr = d.net_collection
    w.writerow(
        [
            "summary",
            "net_collection_rate_pct",
            _pct(ncr.percent),
            f"DOS {ncr.cohort_start.isoformat()} to {ncr.cohort_end.isoformat()}: "
            f"{_m(ncr.payments)} / ({_m(ncr.gross)} - {_m(ncr.contractual)})",
        ]
    )
    w.writerow([])
    w.writerow(["aging", "row", *metrics.BUCKET_LABELS, "total"])
    for row in [*d.aging.by_payer, d.aging.patient, d.aging.total]:
        w.writerow(["aging", row.label, *map(_m, row.values), _m(row.total)])
    w.writerow([])
    w.writerow(["monthly", "month", "charges", "payments", "adjustments"])
    for m in d.months:
        w.writerow(["monthly", m.month.strftime("%Y-%m"), _m(m.charges), _m(m.payments), _m(m.adjustments)])
    w.writerow([])
    for section, rows in (("by_payer", d.by_payer), ("by_clinician", d.by_clinician)):
        w.writerow([section, "name", "charges", "payments", "adjustments", "ar"])
        for r in rows:
            w.writerow([section, r.label, _m(r.charges), _m(r.payments), _m(r.adjustments), _m(r.ar)])
        w.writerow([])
    return response


@practice_view(Perm.AR_VIEW_DASHBOARD)
def revenue_leakage_view(request: HttpRequest) -> HttpResponse:
    sections = selectors_ar.revenue_leakage()
    slug = request.practice.slug
    for section in sections:
        for item in section.items:
            item.href = reverse(item.url_name, kwargs={"practice_slug": slug, **item.url_kwargs})
    access_record(request=request, action="list", object_type="billing.charge", object_id="revenue-leakage")
    return render(
        request,
        T + "leakage.html",
        {"sections": sections, "total": sum((s.amount for s in sections), metrics.ZERO)},
    )


@practice_view(Perm.AR_VIEW_DASHBOARD)
def revenue_leakage_csv_view(request: HttpRequest) -> HttpResponse:
    sections = selectors_ar.revenue_leakage()
    access_record(request=request, action="export", object_type="billing.charge", object_id="revenue-leakage")
    response, w = _csv_response(f"revenue-leakage-{timezone.localdate().isoformat()}.csv")
    w.writerow(["section", "count", "money_at_stake", "date", "patient", "item", "amount"])
    for s in sections:
        w.writerow([s.title, s.count, _m(s.amount), "", "", "", ""])
        for item in s.items:
            w.writerow(
                [
                    s.title,
                    "",
                    "",
                    item.when.isoformat(),
                    item.patient.display_name,
                    item.what,
                    "" if item.amount is None else _m(item.amount),
                ]
            )
    return response
