"""Filled in by the issue-6 build."""

urlpatterns: list = []
