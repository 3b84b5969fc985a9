"""/api/schema/ (OpenAPI 3) and /api/docs/ (Swagger UI, self-hosted from drf-spectacular-sidecar).

The docs page loads its init script as a separate same-origin file (the split view), so it runs
under the Content-Security-Policy's ``script-src 'self'`` with no inline script or style.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "integrations/keys_api_docs.html"
    title = "Tend API"
    url_name = "api_schema"


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", ApiDocsView.as_view(), name="api_docs"),
]
