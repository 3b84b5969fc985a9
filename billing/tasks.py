"""Celery discovers `tasks.py`: the billing tasks live in their own modules, imported here."""

from billing.tasks_charges import *  # noqa: F403
from billing.tasks_clearinghouse import *  # noqa: F403
from billing.tasks_export import *  # noqa: F403
from billing.tasks_rollup import *  # noqa: F403
from billing.tasks_scrub import *  # noqa: F403
from billing.tasks_statements import *  # noqa: F403
