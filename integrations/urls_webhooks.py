"""Integrations pages (webhooks), under /p/<practice_slug>/."""

from django.urls import path

from integrations import views_webhooks as v

urlpatterns = [
    path("integrations/webhooks/", v.webhook_list_view, name="webhook_list"),
    path("integrations/webhooks/<uuid:endpoint_id>/", v.webhook_detail_view, name="webhook_detail"),
    path("integrations/webhooks/<uuid:endpoint_id>/rotate/", v.webhook_rotate_view, name="webhook_rotate"),
    path("integrations/webhooks/<uuid:endpoint_id>/toggle/", v.webhook_toggle_view, name="webhook_toggle"),
    path("integrations/webhooks/<uuid:endpoint_id>/test/", v.webhook_test_view, name="webhook_test"),
    path(
        "integrations/webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/",
        v.webhook_delivery_view,
        name="webhook_delivery",
    ),
    path(
        "integrations/webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/resend/",
        v.webhook_delivery_resend_view,
        name="webhook_delivery_resend",
    ),
]
