"""Sweep entries for integrations (keys): joined into tests/sweep_registry.py.

SWEPT_MODELS: model label -> make(practice, member=None). NOT_EXPOSED_BY_ID: label -> why no route
takes its id. STAFF_ROUTES: page route name -> model label of its last id kwarg.
"""

from collections.abc import Callable

from integrations.tests import factories as itf

SWEPT_MODELS: dict[str, Callable] = {
    "integrations.ApiKey": lambda p, member=None: itf.ApiKeyFactory(practice=p),
}
NOT_EXPOSED_BY_ID: dict[str, str] = {}
STAFF_ROUTES: dict[str, str] = {"api_key_revoke": "integrations.ApiKey"}
