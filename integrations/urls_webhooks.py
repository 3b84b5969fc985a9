"""Integrations pages (webhooks): filled in by the issue-9 build."""

urlpatterns: list = []
