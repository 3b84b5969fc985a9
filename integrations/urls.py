"""Staff pages of integrations, mounted under /p/<practice_slug>/ (practice scope from the middleware)."""

from django.urls import include, path

urlpatterns = [
    path("", include("integrations.urls_keys")),
    path("", include("integrations.urls_webhooks")),
    path("", include("integrations.urls_data")),
]
