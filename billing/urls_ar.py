"""AR dashboard and revenue leakage under /p/<practice_slug>/billing/ar/ (issue 7, helper R4)."""

from django.urls import path

from billing import views_ar as views

urlpatterns = [
    path("billing/ar/", views.ar_dashboard_view, name="ar_dashboard"),
    path("billing/ar/export.csv", views.ar_dashboard_csv_view, name="ar_dashboard_csv"),
    path("billing/ar/leakage/", views.revenue_leakage_view, name="revenue_leakage"),
    path("billing/ar/leakage/export.csv", views.revenue_leakage_csv_view, name="revenue_leakage_csv"),
]
