"""Filled in by the issue-5 build."""

urlpatterns: list = []
