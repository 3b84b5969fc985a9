"""EDI file pages under /p/<practice_slug>/billing/files/ (helper B4)."""

from django.urls import path

from billing import views_files as views

urlpatterns = [
    path("billing/files/", views.x12_files_view, name="x12_files"),
    path("billing/files/export/", views.x12_files_export_view, name="x12_files_export"),
    path("billing/files/export/<uuid:request_id>/status/", views.x12_export_status_view, name="x12_export_status"),
    path("billing/files/<uuid:file_id>/download/", views.x12_file_download_view, name="x12_file_download"),
    path("billing/files/inbound/", views.inbound_file_upload_view, name="inbound_file_upload"),
    path("billing/files/inbound/<uuid:inbound_id>/", views.inbound_file_detail_view, name="inbound_file_detail"),
]
