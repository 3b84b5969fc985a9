"""Integrations pages (data): filled in by the issue-9 build."""

urlpatterns: list = []
