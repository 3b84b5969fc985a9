"""Risk alerts under /p/<practice_slug>/: the list and one alert (with its acknowledge form)."""

from django.urls import path

from assessments import views_alerts as views

urlpatterns = [
    path("alerts/", views.risk_alert_list_view, name="risk_alert_list"),
    path("alerts/<uuid:alert_id>/", views.risk_alert_detail_view, name="risk_alert_detail"),
]
