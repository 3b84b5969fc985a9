"""/api/v1/ routes of assessments (included from practice/api_urls.py)."""

from django.urls import path

from assessments import api

urlpatterns = [
    path("instruments/", api.InstrumentViewSet.as_view({"get": "list"}), name="api_instrument_list"),
    path("instruments/<str:code>/", api.InstrumentViewSet.as_view({"get": "retrieve"}), name="api_instrument_detail"),
    path("protocols/", api.ProtocolViewSet.as_view({"get": "list", "post": "create"}), name="api_protocol_list"),
    path(
        "protocols/<uuid:public_id>/",
        api.ProtocolViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_protocol_detail",
    ),
    path("assignments/", api.AssignmentViewSet.as_view({"get": "list", "post": "create"}), name="api_assignment_list"),
    path(
        "assignments/<uuid:public_id>/",
        api.AssignmentViewSet.as_view({"get": "retrieve"}),
        name="api_assignment_detail",
    ),
    path(
        "assignments/<uuid:public_id>/end/",
        api.AssignmentViewSet.as_view({"post": "end"}),
        name="api_assignment_end",
    ),
    path(
        "administrations/",
        api.AdministrationViewSet.as_view({"get": "list", "post": "create"}),
        name="api_administration_list",
    ),
    path(
        "administrations/<uuid:public_id>/",
        api.AdministrationViewSet.as_view({"get": "retrieve"}),
        name="api_administration_detail",
    ),
    path("responses/", api.ResponseViewSet.as_view({"get": "list", "post": "create"}), name="api_response_list"),
    path("responses/<uuid:public_id>/", api.ResponseViewSet.as_view({"get": "retrieve"}), name="api_response_detail"),
    path("alerts/", api.RiskAlertViewSet.as_view({"get": "list"}), name="api_alert_list"),
    path("alerts/<uuid:public_id>/", api.RiskAlertViewSet.as_view({"get": "retrieve"}), name="api_alert_detail"),
    path(
        "alerts/<uuid:public_id>/acknowledge/",
        api.RiskAlertViewSet.as_view({"post": "acknowledge"}),
        name="api_alert_acknowledge",
    ),
]
