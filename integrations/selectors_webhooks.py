"""Reads of the webhook pages (inside the request's practice scope)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from integrations.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    """The practice's endpoints with their failed and waiting delivery counts (one query)."""
    S = WebhookDelivery.Status
    return WebhookEndpoint.objects.annotate(
        failed_count=Count("deliveries", filter=Q(deliveries__status=S.FAILED)),
        waiting_count=Count("deliveries", filter=Q(deliveries__status__in=(S.PENDING, S.RETRYING))),
    ).order_by("created_at", "pk")


def webhook_endpoint_get(*, public_id) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(public_id=public_id)


def webhook_delivery_list(*, endpoint: WebhookEndpoint, status: str = "") -> QuerySet[WebhookDelivery]:
    """Newest first; the payload is left out of the list (the detail shows it)."""
    qs = WebhookDelivery.objects.filter(endpoint=endpoint).defer("payload", "response_body")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def webhook_delivery_get(*, endpoint: WebhookEndpoint, public_id) -> WebhookDelivery:
    return WebhookDelivery.objects.select_related("endpoint").get(endpoint=endpoint, public_id=public_id)
