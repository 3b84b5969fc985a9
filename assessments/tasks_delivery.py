"""Questionnaire delivery tasks (filled in by the issue-5 build)."""

__all__: list[str] = []
