"""Integrations pages (data): Settings → Import data and Settings → Export all data."""

from django.urls import path

from integrations import views_data as views

urlpatterns = [
    path("integrations/import/", views.import_home_view, name="data_import"),
    path("integrations/import/template/", views.import_template_view, name="data_import_template"),
    path("integrations/import/<uuid:job_id>/", views.import_job_view, name="data_import_job"),
    path("integrations/import/<uuid:job_id>/progress/", views.import_progress_view, name="data_import_progress"),
    path("integrations/import/<uuid:job_id>/run/", views.import_run_view, name="data_import_run"),
    path("integrations/export/", views.export_home_view, name="data_export"),
    path("integrations/export/status/", views.export_status_view, name="data_export_status"),
    path("integrations/export/<uuid:export_id>/download/", views.export_download_view, name="data_export_download"),
]
