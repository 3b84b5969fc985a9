"""Settings for the load test's gunicorn: production settings (config.settings.base) with DEBUG off,
plus STATIC_ROOT in a throwaway directory so the run's `collectstatic` never touches the checkout.

Everything else, including the loopback-only relaxations (plain-http cookies, no HTTPS redirect), comes
from environment variables that config.settings.base already reads; only run_load.py sets them.
"""

import os

from config.settings.base import *  # noqa: F403

STATIC_ROOT = os.environ["TEND_LOAD_STATIC_ROOT"]
