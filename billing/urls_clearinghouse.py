"""Clearinghouse pages under /p/<practice_slug>/billing/clearinghouse/ (no object ids: one
connection per practice; the log lists the practice's transmissions)."""

from django.urls import path

from billing import views_clearinghouse as views

urlpatterns = [
    path("billing/clearinghouse/", views.clearinghouse_settings_view, name="clearinghouse_settings"),
    path("billing/clearinghouse/test/", views.clearinghouse_test_view, name="clearinghouse_test"),
    path("billing/clearinghouse/host-key/", views.clearinghouse_fetch_host_key_view, name="clearinghouse_host_key"),
    path("billing/clearinghouse/log/", views.transmission_log_view, name="transmission_log"),
    path("billing/clearinghouse/sync/", views.clearinghouse_sync_now_view, name="clearinghouse_sync_now"),
]
