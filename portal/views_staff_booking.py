"""Staff-side portal settings page (/p/<slug>/portal/settings/): online booking rules, messaging,
shared instruments, telehealth join window, invitations, the intake packet; plus a read-only table
of appointment types with their online flags (edited on scheduling's appointment type pages)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from portal import services_booking as services
from portal.access import portal_settings_for
from portal.forms_booking import PortalSettingsForm
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view
from scheduling.models import AppointmentType


@practice_view(Perm.PORTAL_MANAGE_SETTINGS)
def portal_settings(request: HttpRequest) -> HttpResponse:
    current = portal_settings_for(request.practice)
    form = PortalSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        clinicians = list(data.pop("bookable_clinicians"))
        try:
            services.portal_settings_update(by=request.membership, bookable_clinicians=clinicians, **data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, "Portal settings saved.")
            return redirect("portal_settings", practice_slug=request.practice.slug)
    types = AppointmentType.objects.filter(is_active=True).order_by("name")
    return render(request, "portal/staff/settings/settings.html", {"form": form, "types": types})
