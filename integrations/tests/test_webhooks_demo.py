"""The demo endpoint: switched off, with a realistic log, idempotent, and nothing is ever sent."""

import pytest
from django.urls import reverse

from integrations.demo_webhooks import DEMO_URL, seed_webhooks
from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.tasks_webhooks import webhooks_send_due_task
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


def test_demo_endpoint_and_log_are_seeded_once_and_never_sent(practice_a, make_member, client, login):
    owner = make_member(practice_a, Role.OWNER)
    with practice_scope(practice_a):
        assert seed_webhooks(practice_a, owner) == 5
        assert seed_webhooks(practice_a, owner) == 0
        endpoint = WebhookEndpoint.objects.get()
        statuses = sorted(WebhookDelivery.objects.values_list("status", "attempts"))
    assert endpoint.url == DEMO_URL and not endpoint.is_active
    assert statuses == [("failed", 8), ("succeeded", 1), ("succeeded", 1), ("succeeded", 3)]
    assert webhooks_send_due_task() == 0
    login(owner)
    html = client.get(
        reverse("webhook_detail", kwargs={"practice_slug": "riverside", "endpoint_id": endpoint.public_id})
    ).content.decode()
    assert html.count("data-delivery=") == 4 and "HTTP 503" in html
