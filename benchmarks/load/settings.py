"""Settings for the load test's gunicorn: production settings (config.settings.base, DEBUG off) with
STATIC_ROOT in a throwaway directory, so the run's `collectstatic` never touches the checkout.

Locust requests no static files, so the run skips whitenoise's gzip/brotli pre-compression (minutes of
CPU on a 2-core host); pages still resolve every `{% static %}` through the hashed manifest as in
production. Everything else, including the loopback-only relaxations (plain-http cookies, no HTTPS
redirect), comes from environment variables that config.settings.base already reads; only
run_load.py sets them.
"""

import os

from config.settings.base import *  # noqa: F403

STATIC_ROOT = os.environ["TEND_LOAD_STATIC_ROOT"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
