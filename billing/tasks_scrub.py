"""Filled in by the issue-6 build."""

__all__: list[str] = []
