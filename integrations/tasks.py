"""Celery discovers `tasks.py`: the integrations tasks live in their own modules, imported here."""

from integrations.tasks_data import *  # noqa: F403
from integrations.tasks_webhooks import *  # noqa: F403
