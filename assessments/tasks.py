"""Celery discovers `tasks.py`: the assessment tasks live in their own modules, imported here."""

from assessments.tasks_alerts import *  # noqa: F403
from assessments.tasks_delivery import *  # noqa: F403
