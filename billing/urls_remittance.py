"""Filled in by the issue-7 build."""

urlpatterns: list = []
