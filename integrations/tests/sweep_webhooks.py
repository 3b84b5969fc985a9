"""Sweep entries for integrations (webhooks): joined into tests/sweep_registry.py.

SWEPT_MODELS: model label -> make(practice, member=None). NOT_EXPOSED_BY_ID: label -> why no route
takes its id. STAFF_ROUTES: page route name -> model label of its last id kwarg.
"""

from collections.abc import Callable

from integrations.tests import factories as itf

SWEPT_MODELS: dict[str, Callable] = {
    "integrations.WebhookEndpoint": lambda p, member=None: itf.WebhookEndpointFactory(practice=p),
    "integrations.WebhookDelivery": lambda p, member=None: itf.WebhookDeliveryFactory(practice=p),
}
NOT_EXPOSED_BY_ID: dict[str, str] = {}
STAFF_ROUTES: dict[str, str] = {
    "webhook_detail": "integrations.WebhookEndpoint",
    "webhook_rotate": "integrations.WebhookEndpoint",
    "webhook_toggle": "integrations.WebhookEndpoint",
    "webhook_test": "integrations.WebhookEndpoint",
    "webhook_delivery": "integrations.WebhookDelivery",
    "webhook_delivery_resend": "integrations.WebhookDelivery",
}
