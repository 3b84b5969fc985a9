"""Billing set-up pages (billing identity, rendering providers, payers and their scrub rules, fee
schedules, sliding scale) and the patient's coverage pages (coverage, billing settings, prior
authorizations, eligibility 270/271).

Thin views: rules live in `services_setup` / `eligibility`, reads in `selectors_setup`. Objects are
looked up by public_id in the practice scope (another practice's is a 404). DomainError is shown
as a form error.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from billing import eligibility as elig
from billing import selectors_setup as sel
from billing import services_setup as svc
from billing.cpt import CPT_CODES, cpt_label
from billing.forms_setup import (
    AuthorizationForm,
    BillingProfileForm,
    BillingSettingsForm,
    CoverageForm,
    EligibilityUploadForm,
    FeeEntryForm,
    FeeScheduleForm,
    PayerForm,
    RenderingProviderForm,
    RuleSettingsForm,
    SlidingTierForm,
)
from billing.models import (
    BillingProfile,
    Charge,
    Coverage,
    EligibilityCheck,
    FeeSchedule,
    FeeScheduleEntry,
    Payer,
    PriorAuthorization,
    RenderingProvider,
    SlidingScaleTier,
)
from clinical import access
from clinical.views.base import patient_view
from clinical.views.records import chart_url
from practice.audit import access_record
from practice.errors import DomainError
from practice.models import Membership
from practice.permissions import Perm, Role
from practice.views.base import practice_view

T = "billing/setup/"
C = "billing/coverage/"
CLINICAL_ROLES = (Role.OWNER, Role.CLINICIAN, Role.SUPERVISOR)


def _form_error(form: forms.BaseForm, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _slug(request: HttpRequest) -> str:
    return request.practice.slug


# --- Billing identity ------------------------------------------------------------------------


@practice_view(Perm.BILLING_SETUP)
def billing_setup_view(request: HttpRequest) -> HttpResponse:
    profile = BillingProfile.objects.first()
    form = BillingProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        try:
            svc.billing_profile_save(practice=request.practice, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Billing identity saved.")
            return redirect("billing_setup", practice_slug=_slug(request))
    counts = {
        "payers": Payer.objects.filter(is_active=True).count(),
        "schedules": FeeSchedule.objects.filter(is_active=True).count(),
        "tiers": SlidingScaleTier.objects.count(),
        "providers": RenderingProvider.objects.filter(membership__is_active=True).count(),
    }
    return render(
        request,
        T + "setup.html",
        {"form": form, "profile": profile, "counts": counts},
        status=400 if form.errors else 200,
    )


# --- Rendering providers ---------------------------------------------------------------------


def _clinicians():
    return (
        Membership.objects.filter(is_active=True, role__in=CLINICAL_ROLES)
        .select_related("user", "supervisor__user", "billing_identity")
        .order_by("user__full_name", "id")
    )


@practice_view(Perm.BILLING_SETUP)
def rendering_provider_list_view(request: HttpRequest) -> HttpResponse:
    rows = []
    for member in _clinicians():
        provider = getattr(member, "billing_identity", None)
        rows.append({"member": member, "provider": provider})
    return render(request, T + "providers.html", {"rows": rows})


@practice_view(Perm.BILLING_SETUP)
def rendering_provider_edit_view(request: HttpRequest, member_id: Any) -> HttpResponse:
    member = get_object_or_404(Membership.objects.select_related("user", "supervisor__user"), public_id=member_id)
    provider = RenderingProvider.objects.filter(membership=member).first()
    initial = {}
    if provider is None:
        names = (member.user.full_name or "").split()
        initial = {
            "first_name": names[0] if names else "",
            "last_name": names[-1] if len(names) > 1 else "",
            "credential": member.title,
        }
    form = RenderingProviderForm(request.POST or None, instance=provider, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            svc.rendering_provider_save(membership=member, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Billing identity of {member.user.display_name} saved.")
            return redirect("rendering_provider_list", practice_slug=_slug(request))
    supervisor_provider = (
        RenderingProvider.objects.filter(membership_id=member.supervisor_id).first() if member.supervisor_id else None
    )
    return render(
        request,
        T + "provider_edit.html",
        {"member": member, "provider": provider, "form": form, "supervisor_provider": supervisor_provider},
        status=400 if form.errors else 200,
    )


# --- Payers and scrub rules ------------------------------------------------------------------


@practice_view(Perm.BILLING_SETUP)
def payer_list_view(request: HttpRequest) -> HttpResponse:
    payers = Payer.objects.annotate(
        coverage_count=Count("coverages", filter=Q(coverages__is_active=True), distinct=True),
        rule_count=Count("rule_settings", distinct=True),
    ).order_by("-is_active", "name")
    return render(request, T + "payers.html", {"payers": payers})


@practice_view(Perm.BILLING_SETUP)
def payer_new_view(request: HttpRequest) -> HttpResponse:
    form = PayerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payer = svc.payer_save(practice=request.practice, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{payer.name} added.")
            return redirect("payer_edit", practice_slug=_slug(request), payer_id=payer.public_id)
    return render(request, T + "payer_edit.html", {"form": form, "payer": None}, status=400 if form.errors else 200)


def _save_rules(request: HttpRequest, *, payer: Payer | None, form: RuleSettingsForm) -> None:
    for row in form.rows:
        svc.scrub_rule_setting_save(
            practice=request.practice,
            payer=payer,
            rule_code=row.code,
            is_enabled=bool(form.cleaned_data.get(f"enabled_{row.code}")),
            severity=form.cleaned_data.get(f"severity_{row.code}") or "",
        )


@practice_view(Perm.BILLING_SETUP)
def payer_edit_view(request: HttpRequest, payer_id: Any) -> HttpResponse:
    payer = get_object_or_404(Payer, public_id=payer_id)
    rows = sel.rule_rows(payer=payer)
    section = request.POST.get("section", "payer") if request.method == "POST" else ""
    form = PayerForm(request.POST if section == "payer" else None, instance=payer)
    rules = RuleSettingsForm(request.POST if section == "rules" else None, rows=rows, prefix="rules")
    if section == "payer" and form.is_valid():
        try:
            svc.payer_save(practice=request.practice, payer=payer, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{payer.name} saved.")
            return redirect("payer_edit", practice_slug=_slug(request), payer_id=payer.public_id)
    if section == "rules" and rules.is_valid():
        try:
            _save_rules(request, payer=payer, form=rules)
        except DomainError as exc:
            _form_error(rules, exc)
        else:
            messages.success(request, f"Scrubbing rules for {payer.name} saved.")
            return redirect("payer_edit", practice_slug=_slug(request), payer_id=payer.public_id)
    failed = bool(form.errors or rules.errors)
    return render(
        request,
        T + "payer_edit.html",
        {"form": form, "payer": payer, "rules": rules, "rules_available": bool(rows)},
        status=400 if failed else 200,
    )


@practice_view(Perm.BILLING_SETUP)
def scrub_rule_settings_view(request: HttpRequest) -> HttpResponse:
    rows = sel.rule_rows(payer=None)
    rules = RuleSettingsForm(request.POST or None, rows=rows, prefix="rules")
    if request.method == "POST" and rules.is_valid():
        try:
            _save_rules(request, payer=None, form=rules)
        except DomainError as exc:
            _form_error(rules, exc)
        else:
            messages.success(request, "Practice-wide scrubbing rules saved.")
            return redirect("scrub_rule_settings", practice_slug=_slug(request))
    return render(
        request,
        T + "rules.html",
        {"rules": rules, "rules_available": bool(rows)},
        status=400 if rules.errors else 200,
    )


# --- Fee schedules and sliding scale ---------------------------------------------------------


@practice_view(Perm.BILLING_SETUP)
def fee_schedule_list_view(request: HttpRequest) -> HttpResponse:
    schedules = FeeSchedule.objects.select_related("payer").annotate(entry_count=Count("entries"))
    return render(request, T + "fee_schedules.html", {"schedules": schedules.order_by("-is_active", "kind", "name")})


@practice_view(Perm.BILLING_SETUP)
def fee_schedule_new_view(request: HttpRequest) -> HttpResponse:
    initial = {"kind": request.GET.get("kind")} if request.GET.get("kind") in FeeSchedule.Kind.values else {}
    form = FeeScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            schedule = svc.fee_schedule_save(practice=request.practice, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{schedule.name} created; add its fees.")
            return redirect("fee_schedule_edit", practice_slug=_slug(request), schedule_id=schedule.public_id)
    return render(
        request, T + "fee_schedule_edit.html", {"form": form, "schedule": None}, status=400 if form.errors else 200
    )


@practice_view(Perm.BILLING_SETUP)
def fee_schedule_edit_view(request: HttpRequest, schedule_id: Any) -> HttpResponse:
    schedule = get_object_or_404(FeeSchedule.objects.select_related("payer"), public_id=schedule_id)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = FeeScheduleForm(request.POST if action == "schedule" else None, instance=schedule)
    entry_form = FeeEntryForm(request.POST if action == "add_entry" else None, prefix="new")
    back = redirect("fee_schedule_edit", practice_slug=_slug(request), schedule_id=schedule.public_id)
    failed = False
    if action == "schedule" and form.is_valid():
        try:
            svc.fee_schedule_save(practice=request.practice, schedule=schedule, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Schedule saved.")
            return back
    elif action == "add_entry" and entry_form.is_valid():
        data = entry_form.cleaned_data
        try:
            svc.fee_entry_save(
                schedule=schedule, cpt=data["cpt"], modifier=data["modifier"], amount_cents=data["amount"]
            )
        except DomainError as exc:
            _form_error(entry_form, exc)
        else:
            messages.success(request, f"Fee for {data['cpt']} added.")
            return back
    elif action in ("update_entry", "remove_entry"):
        entry = FeeScheduleEntry.objects.filter(schedule=schedule, public_id=_uuid(request.POST.get("entry"))).first()
        if entry is None:
            raise Http404("No such fee.")
        if action == "remove_entry":
            svc.fee_entry_delete(entry=entry)
            messages.success(request, f"Fee for {entry.cpt} removed.")
            return back
        row_form = FeeEntryForm(request.POST, prefix=f"e{entry.pk}")
        if row_form.is_valid():
            data = row_form.cleaned_data
            try:
                svc.fee_entry_save(
                    schedule=schedule,
                    entry=entry,
                    cpt=data["cpt"],
                    modifier=data["modifier"],
                    amount_cents=data["amount"],
                )
            except DomainError as exc:
                messages.error(request, exc.message)
                failed = True
            else:
                messages.success(request, f"Fee for {data['cpt']} saved.")
                return back
        else:
            messages.error(
                request, "Check the amount: " + "; ".join(e for errs in row_form.errors.values() for e in errs)
            )
            failed = True
    failed = failed or bool(form.errors or entry_form.errors)
    entries = list(FeeScheduleEntry.objects.filter(schedule=schedule).order_by("cpt", "modifier"))
    rows = [
        {
            "entry": e,
            "label": cpt_label(e.cpt),
            "form": FeeEntryForm(
                prefix=f"e{e.pk}",
                initial={"cpt": e.cpt, "modifier": e.modifier, "amount": f"{e.amount_cents / 100:.2f}"},
            ),
        }
        for e in entries
    ]
    return render(
        request,
        T + "fee_schedule_edit.html",
        {"form": form, "schedule": schedule, "entry_form": entry_form, "rows": rows},
        status=400 if failed else 200,
    )


def _uuid(value: str | None):
    import uuid

    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


@practice_view(Perm.BILLING_SETUP)
def sliding_scale_tiers_view(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = SlidingTierForm(request.POST if action == "add" else None, prefix="new")
    back = redirect("sliding_scale_tiers", practice_slug=_slug(request))
    if action == "add" and form.is_valid():
        try:
            svc.sliding_tier_save(practice=request.practice, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Tier added.")
            return back
    elif action in ("update", "delete"):
        tier = SlidingScaleTier.objects.filter(public_id=_uuid(request.POST.get("tier"))).first()
        if tier is None:
            raise Http404("No such tier.")
        try:
            if action == "delete":
                svc.sliding_tier_delete(tier=tier)
                messages.success(request, f"{tier.name} removed.")
                return back
            row = SlidingTierForm(request.POST, prefix=f"t{tier.pk}", instance=tier)
            if row.is_valid():
                svc.sliding_tier_save(practice=request.practice, tier=tier, data=row.cleaned_data)
                messages.success(request, f"{tier.name} saved.")
                return back
            messages.error(request, "; ".join(e for errs in row.errors.values() for e in errs))
        except DomainError as exc:
            messages.error(request, exc.message)
    tiers = list(
        SlidingScaleTier.objects.annotate(patient_count=Count("patientbillingsettings", distinct=True)).order_by(
            "discount_percent", "name"
        )
    )
    rows = [{"tier": t, "form": SlidingTierForm(prefix=f"t{t.pk}", instance=t)} for t in tiers]
    self_pay = FeeSchedule.objects.filter(kind=FeeSchedule.Kind.SELF_PAY, is_active=True).first()
    status = 400 if (form.errors or action in ("update", "delete")) else 200
    return render(request, T + "sliding_scale.html", {"form": form, "rows": rows, "self_pay": self_pay}, status=status)


# --- Coverage (patient pages) ----------------------------------------------------------------


def _coverage_context(request: HttpRequest, patient, **extra: Any) -> dict[str, Any]:
    coverages = sel.patient_coverages(patient)
    auths = [a for c in coverages for a in c.authorizations.all()]
    used = (
        dict(
            Charge.objects.filter(prior_authorization__in=auths)
            .exclude(status=Charge.Status.VOID)
            .values("prior_authorization")
            .annotate(n=Count("id"))
            .values_list("prior_authorization", "n")
        )
        if auths
        else {}
    )
    for coverage in coverages:
        coverage.copay_dollars = f"{coverage.copay_cents / 100:,.2f}"
        coverage.auth_rows = [
            {
                "auth": a,
                "used": used.get(a.pk, 0),
                "remaining": max(a.visits_authorized - used.get(a.pk, 0), 0),
                "labels": ", ".join(a.cpt_codes) if a.cpt_codes else "Any service",
            }
            for a in coverage.authorizations.all()
        ]
    checks = sel.latest_eligibility(patient)
    latest = next((c for c in checks if c.status == EligibilityCheck.Status.ANSWERED), None)
    settings = sel.patient_billing_settings(patient)
    context = {
        "patient": patient,
        "coverages": coverages,
        "checks": checks,
        "latest_answered": latest,
        "benefit_rows": elig.benefit_rows(latest) if latest else [],
        "settings": settings,
        "chart_url": chart_url(request, patient),
        "can_manage": request.membership.has_perm(Perm.COVERAGE_MANAGE),
    }
    context.setdefault("form", None)
    context |= extra
    context.setdefault(
        "settings_form",
        BillingSettingsForm(
            initial={
                "self_pay": settings.self_pay if settings else False,
                "sliding_scale_tier": settings.sliding_scale_tier_id if settings else None,
            }
        ),
    )
    context.setdefault("upload_form", EligibilityUploadForm())
    return context


@patient_view(Perm.COVERAGE_MANAGE)
def patient_coverage_view(request: HttpRequest, patient) -> HttpResponse:
    access_record(
        request=request,
        action="list",
        object_type="billing.coverage",
        object_id=str(patient.public_id),
        patient_id=patient.public_id,
    )
    action = request.POST.get("action", "") if request.method == "POST" else ""
    back = redirect("patient_coverage", practice_slug=_slug(request), patient_id=patient.public_id)
    form = CoverageForm(request.POST if action == "add" else None)
    extra: dict[str, Any] = {}
    if action == "add" and form.is_valid():
        try:
            svc.coverage_save(patient=patient, data=form.service_data(), by=request.membership)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Coverage added.")
            return back
    elif action == "settings":
        settings_form = BillingSettingsForm(request.POST)
        extra["settings_form"] = settings_form
        if settings_form.is_valid():
            svc.patient_billing_settings_save(
                patient=patient,
                self_pay=settings_form.cleaned_data["self_pay"],
                sliding_scale_tier=settings_form.cleaned_data["sliding_scale_tier"],
            )
            messages.success(request, "Billing settings saved.")
            return back
    elif action == "upload_271":
        upload = EligibilityUploadForm(request.POST, request.FILES)
        extra["upload_form"] = upload
        if upload.is_valid():
            try:
                check = elig.eligibility_response_import(
                    practice_id=request.practice.id, content=upload.cleaned_data["file"], by=request.membership
                )
            except DomainError as exc:
                upload.add_error("file", exc.message)
            else:
                if check.coverage.patient_id != patient.id:
                    messages.warning(request, "That 271 answers another patient's request; it was filed there.")
                else:
                    messages.success(request, "Eligibility response imported.")
                return back
    failed = bool(form.errors or any(getattr(f, "errors", None) for f in extra.values()))
    return render(
        request,
        C + "patient_coverage.html",
        _coverage_context(request, patient, form=form, **extra),
        status=400 if failed else 200,
    )


@patient_view(Perm.COVERAGE_MANAGE)
def coverage_edit_view(request: HttpRequest, patient, coverage_id: Any) -> HttpResponse:
    coverage = get_object_or_404(Coverage.objects.select_related("payer"), public_id=coverage_id, patient=patient)
    access_record(request=request, action="view", target=coverage)
    action = request.POST.get("action", "save") if request.method == "POST" else ""
    back = redirect(
        "coverage_edit", practice_slug=_slug(request), patient_id=patient.public_id, coverage_id=coverage_id
    )
    form = CoverageForm(request.POST if action == "save" else None, instance=coverage)
    if action == "save" and form.is_valid():
        try:
            svc.coverage_save(patient=patient, coverage=coverage, data=form.service_data(), by=request.membership)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Coverage saved.")
            return back
    elif action == "deactivate":
        svc.coverage_deactivate(coverage=coverage, by=request.membership)
        messages.success(request, "Coverage deactivated.")
        return redirect("patient_coverage", practice_slug=_slug(request), patient_id=patient.public_id)
    elif action == "eligibility":
        try:
            elig.eligibility_request(coverage=coverage, by=request.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, "Eligibility request (270) generated: download it and send it to the clearinghouse."
            )
        return back
    checks = list(
        EligibilityCheck.objects.filter(coverage=coverage)
        .select_related("requested_by__user")
        .order_by("-created_at")[:10]
    )
    return render(
        request,
        C + "coverage_edit.html",
        {
            "patient": patient,
            "coverage": coverage,
            "form": form,
            "checks": checks,
            "chart_url": chart_url(request, patient),
        },
        status=400 if form.errors else 200,
    )


def _authorization_page(request, patient, coverage, form, authorization=None, status=200) -> HttpResponse:
    usage = sel.authorization_usage(authorization) if authorization else None
    return render(
        request,
        C + "authorization_edit.html",
        {
            "patient": patient,
            "coverage": coverage,
            "authorization": authorization,
            "usage": usage,
            "form": form,
            "chart_url": chart_url(request, patient),
        },
        status=status,
    )


@patient_view(Perm.COVERAGE_MANAGE)
def authorization_new_view(request: HttpRequest, patient, coverage_id: Any) -> HttpResponse:
    coverage = get_object_or_404(Coverage.objects.select_related("payer"), public_id=coverage_id, patient=patient)
    initial = {"cpt_codes": [c for c in coverage.payer.auth_required_cpts if c in CPT_CODES]}
    form = AuthorizationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            svc.authorization_save(coverage=coverage, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Authorization added.")
            return redirect("patient_coverage", practice_slug=_slug(request), patient_id=patient.public_id)
    return _authorization_page(request, patient, coverage, form, status=400 if form.errors else 200)


@patient_view(Perm.COVERAGE_MANAGE)
def authorization_edit_view(request: HttpRequest, patient, coverage_id: Any, authorization_id: Any) -> HttpResponse:
    coverage = get_object_or_404(Coverage.objects.select_related("payer"), public_id=coverage_id, patient=patient)
    authorization = get_object_or_404(PriorAuthorization, public_id=authorization_id, coverage=coverage)
    access_record(request=request, action="view", target=authorization)
    form = AuthorizationForm(request.POST or None, instance=authorization)
    if request.method == "POST" and form.is_valid():
        try:
            svc.authorization_save(coverage=coverage, authorization=authorization, data=form.cleaned_data)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Authorization saved.")
            return redirect("patient_coverage", practice_slug=_slug(request), patient_id=patient.public_id)
    return _authorization_page(request, patient, coverage, form, authorization, status=400 if form.errors else 200)


@practice_view(Perm.COVERAGE_MANAGE)
def eligibility_download_view(request: HttpRequest, check_id: Any) -> HttpResponse:
    """The 270 (or, with ?file=271, the imported 271) as a download."""
    check = get_object_or_404(EligibilityCheck.objects.select_related("coverage__patient"), public_id=check_id)
    if not access.can_view_demographics(request.membership, check.coverage.patient):
        raise Http404("No such eligibility check.")
    access_record(request=request, action="export", target=check, patient_id=check.coverage.patient.public_id)
    which = "271" if request.GET.get("file") == "271" and check.response_x12 else "270"
    content = check.response_x12 if which == "271" else check.request_x12
    response = HttpResponse(content, content_type="application/edi-x12")
    response["Content-Disposition"] = f'attachment; filename="{which}-{check.trace_number}.x12"'
    return response


__all__ = [
    "authorization_edit_view",
    "authorization_new_view",
    "billing_setup_view",
    "coverage_edit_view",
    "eligibility_download_view",
    "fee_schedule_edit_view",
    "fee_schedule_list_view",
    "fee_schedule_new_view",
    "patient_coverage_view",
    "payer_edit_view",
    "payer_list_view",
    "payer_new_view",
    "rendering_provider_edit_view",
    "rendering_provider_list_view",
    "scrub_rule_settings_view",
    "sliding_scale_tiers_view",
]
