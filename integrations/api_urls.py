"""/api/v1/ routes of integrations (included from practice/api_urls.py)."""

from django.urls import path

from integrations import api

urlpatterns = [
    path(
        "webhook-endpoints/",
        api.WebhookEndpointViewSet.as_view({"get": "list", "post": "create"}),
        name="api_webhook_endpoint_list",
    ),
    path(
        "webhook-endpoints/<uuid:public_id>/",
        api.WebhookEndpointViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_webhook_endpoint_detail",
    ),
    path(
        "webhook-endpoints/<uuid:public_id>/rotate-secret/",
        api.WebhookEndpointViewSet.as_view({"post": "rotate_secret"}),
        name="api_webhook_endpoint_rotate_secret",
    ),
    path("webhook-deliveries/", api.WebhookDeliveryViewSet.as_view({"get": "list"}), name="api_webhook_delivery_list"),
    path(
        "webhook-deliveries/<uuid:public_id>/",
        api.WebhookDeliveryViewSet.as_view({"get": "retrieve"}),
        name="api_webhook_delivery_detail",
    ),
    path(
        "webhook-deliveries/<uuid:public_id>/resend/",
        api.WebhookDeliveryViewSet.as_view({"post": "resend"}),
        name="api_webhook_delivery_resend",
    ),
    path("import-jobs/", api.ImportJobViewSet.as_view({"get": "list"}), name="api_import_job_list"),
    path(
        "import-jobs/<uuid:public_id>/", api.ImportJobViewSet.as_view({"get": "retrieve"}), name="api_import_job_detail"
    ),
    path("export-jobs/", api.ExportJobViewSet.as_view({"get": "list"}), name="api_export_job_list"),
    path(
        "export-jobs/<uuid:public_id>/", api.ExportJobViewSet.as_view({"get": "retrieve"}), name="api_export_job_detail"
    ),
]
