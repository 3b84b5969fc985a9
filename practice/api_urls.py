"""/api/v1/: the practice app's REST endpoints (mounted in config/urls.py)."""

from django.urls import include, path, re_path

from practice import api

urlpatterns = [
    path("auth/token/", api.TokenObtainView.as_view(), name="api_token_obtain"),
    path("auth/tokens/", api.ApiTokenViewSet.as_view({"get": "list"}), name="api_token_list"),
    path(
        "auth/tokens/<uuid:public_id>/",
        api.ApiTokenViewSet.as_view({"delete": "destroy"}),
        name="api_token_detail",
    ),
    path("me/", api.MeView.as_view(), name="api_me"),
    path("locations/", api.LocationViewSet.as_view({"get": "list"}), name="api_location_list"),
    path("locations/<uuid:public_id>/", api.LocationViewSet.as_view({"get": "retrieve"}), name="api_location_detail"),
    path("members/", api.MemberViewSet.as_view({"get": "list"}), name="api_member_list"),
    path("members/<uuid:public_id>/", api.MemberViewSet.as_view({"get": "retrieve"}), name="api_member_detail"),
    path("", include("clinical.api_urls")),
    path("", include("scheduling.api_urls")),
    path("", include("assessments.api_urls")),
    path("", include("billing.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("integrations.api_urls")),
    path("", include("portal.api_urls")),
    # Keep last: any other /api/v1/ path is a JSON 404 in the API's error shape.
    re_path(r"^.*$", api.ApiNotFoundView.as_view(), name="api_not_found"),
]
