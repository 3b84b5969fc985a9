"""Settings → Webhooks: endpoints, their signing secrets (shown once), the delivery log, test
events and re-sends. Every page needs Perm.INTEGRATIONS_MANAGE (owners and admins).

A new or rotated secret is rendered in the answer to the POST that made it and stored nowhere
else in clear (not in the session either): the page says to copy it now.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from integrations import selectors_webhooks as selectors
from integrations import webhooks as services
from integrations.forms_webhooks import DeliveryFilterForm, WebhookEndpointForm
from integrations.models import WebhookDelivery, WebhookEndpoint
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

PAGE_SIZE = 25


def _endpoint(endpoint_id) -> WebhookEndpoint:
    try:
        return selectors.webhook_endpoint_get(public_id=endpoint_id)
    except WebhookEndpoint.DoesNotExist as exc:
        raise Http404 from exc


def _form_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _recipe_context() -> dict:
    return {
        "signature_header": services.SIGNATURE_HEADER,
        "max_attempts": services.MAX_ATTEMPTS,
        "disable_after": services.DISABLE_AFTER_FAILURES,
    }


@practice_view(Perm.INTEGRATIONS_MANAGE)
def webhook_list_view(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = services.webhook_endpoint_create(
                by=request.membership, url=data["url"], events=data["events"], description=data["description"]
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Webhook endpoint added.")
            return _detail(request, endpoint, new_secret=secret)
    return render(
        request,
        "integrations/webhook_list.html",
        {"endpoints": list(selectors.webhook_endpoint_list()), "form": form, **_recipe_context()},
    )


def _detail(request: HttpRequest, endpoint: WebhookEndpoint, *, form=None, new_secret: str = "") -> HttpResponse:
    filter_form = DeliveryFilterForm(request.GET or None)
    status = filter_form.cleaned_data["status"] if filter_form.is_valid() else ""
    page = Paginator(selectors.webhook_delivery_list(endpoint=endpoint, status=status), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    if form is None:
        form = WebhookEndpointForm(
            initial={"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
        )
    return render(
        request,
        "integrations/webhook_detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "filter_form": filter_form,
            "page_obj": page,
            "querystring": f"status={status}" if status else "",
            "new_secret": new_secret,
            **_recipe_context(),
        },
    )


@practice_view(Perm.INTEGRATIONS_MANAGE)
def webhook_detail_view(request: HttpRequest, endpoint_id) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    if request.method != "POST":
        return _detail(request, endpoint)
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.webhook_endpoint_update(
                endpoint=endpoint,
                by=request.membership,
                url=data["url"],
                events=data["events"],
                description=data["description"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Webhook endpoint saved.")
            return redirect("webhook_detail", practice_slug=request.practice.slug, endpoint_id=endpoint.public_id)
    return _detail(request, endpoint, form=form)


@require_POST
@practice_view(Perm.INTEGRATIONS_MANAGE)
def webhook_rotate_view(request: HttpRequest, endpoint_id) -> HttpResponse:
    endpoint, secret = services.webhook_endpoint_rotate_secret(endpoint=_endpoint(endpoint_id), by=request.membership)
    messages.success(request, "New signing secret made. The old one no longer verifies.")
    return _detail(request, endpoint, new_secret=secret)


@require_POST
@practice_view(Perm.INTEGRATIONS_MANAGE)
def webhook_toggle_view(request: HttpRequest, endpoint_id) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    try:
        endpoint = services.webhook_endpoint_set_active(
            endpoint=endpoint, by=request.membership, is_active=not endpoint.is_active
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Endpoint switched on." if endpoint.is_active else "Endpoint switched off.")
    return redirect("webhook_detail", practice_slug=request.practice.slug, endpoint_id=endpoint.public_id)


@require_POST
@practice_view(Perm.INTEGRATIONS_MANAGE)
def webhook_test_view(request: HttpRequest, endpoint_id) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    try:
        services.webhook_endpoint_send_test(endpoint=endpoint, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Test event (ping) sent. Its delivery is at the top of the log.")
    return redirect("webhook_detail", practice_slug=request.practice.slug, endpoint_id=endpoint.public_id)


def _delivery(endpoint: WebhookEndpoint, delivery_id) -> WebhookDelivery:
    try:
        return selectors.webhook_delivery_get(endpoint=endpoint, public_id=delivery_id)
    except WebhookDelivery.DoesNotExist as exc:
        raise Http404 from exc


@practice_view(Perm.INTEGRATIONS_MANAGE)
def webhook_delivery_view(request: HttpRequest, endpoint_id, delivery_id) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    delivery = _delivery(endpoint, delivery_id)
    body = services.payload_body(delivery.payload).decode()
    return render(
        request, "integrations/webhook_delivery.html", {"endpoint": endpoint, "delivery": delivery, "body": body}
    )


@require_POST
@practice_view(Perm.INTEGRATIONS_MANAGE)
def webhook_delivery_resend_view(request: HttpRequest, endpoint_id, delivery_id) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    delivery = _delivery(endpoint, delivery_id)
    try:
        services.webhook_delivery_resend(delivery=delivery, by=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Delivery sent again.")
    return redirect("webhook_detail", practice_slug=request.practice.slug, endpoint_id=endpoint.public_id)
