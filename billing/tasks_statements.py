"""Filled in by the issue-7 build."""

__all__: list[str] = []
