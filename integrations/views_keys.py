"""Settings → API keys: create (the key is shown once, in the answer to the POST), list, revoke.

The raw key is rendered in the response to the creating POST and never stored anywhere, not even
in the session; only its SHA-256 and first characters are kept.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from integrations.api_keys import api_key_create, api_key_list, api_key_revoke
from integrations.forms_keys import ApiKeyCreateForm
from integrations.models import ApiKey
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view


@practice_view(Perm.INTEGRATIONS_MANAGE)
def api_key_list_view(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            key, raw = api_key_create(by=request.membership, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return render(request, "integrations/keys_created.html", {"key": key, "raw_key": raw})
    return render(request, "integrations/keys_list.html", {"form": form, "keys": api_key_list()})


@practice_view(Perm.INTEGRATIONS_MANAGE)
@require_POST
def api_key_revoke_view(request: HttpRequest, public_id: UUID) -> HttpResponse:
    key = get_object_or_404(ApiKey.objects, public_id=public_id)
    api_key_revoke(key=key, by=request.membership)
    messages.success(request, f"API key “{key.name}” revoked. Requests with it are now refused.")
    return redirect("api_key_list", practice_slug=request.practice.slug)
