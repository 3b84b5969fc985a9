"""/fhir/R4/: filled in by the issue-9 FHIR build."""

urlpatterns: list = []
