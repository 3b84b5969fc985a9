"""Settings → API keys, under /p/<practice_slug>/."""

from django.urls import path

from integrations import views_keys

urlpatterns = [
    path("integrations/api-keys/", views_keys.api_key_list_view, name="api_key_list"),
    path("integrations/api-keys/<uuid:public_id>/revoke/", views_keys.api_key_revoke_view, name="api_key_revoke"),
]
