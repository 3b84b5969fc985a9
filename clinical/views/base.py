"""The decorator every patient page uses: practice member with the page's permission, the
patient looked up in the practice scope (another practice's patient is a 404), and the caseload
rule of clinical.access applied (outside it: break-the-glass where allowed, else 404)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

from clinical import access
from clinical.models import Patient
from practice.permissions import Perm
from practice.views.base import practice_view


def patient_view(
    perm: Perm, *, clinical: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap ``view(request, patient, **kwargs)``; the URL carries ``patient_id`` (a public_id).

    ``clinical=True`` pages show clinical content: they need clinical access to the patient.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @practice_view(perm)
        @wraps(view)
        def wrapper(request: HttpRequest, patient_id, *args: object, **kwargs: object) -> HttpResponse:
            patient = get_object_or_404(Patient.objects.select_related("primary_clinician__user"), public_id=patient_id)
            membership = request.membership
            allowed = (
                access.can_view_clinical(membership, patient)
                if clinical
                else access.can_view_demographics(membership, patient)
            )
            if not allowed:
                if access.can_break_glass(membership, patient):
                    return redirect(
                        "patient_break_glass", practice_slug=request.practice.slug, patient_id=patient.public_id
                    )
                raise Http404("No such patient.")
            return view(request, patient, *args, **kwargs)

        return wrapper

    return decorate
