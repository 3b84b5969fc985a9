"""Sweep entries for integrations (data): joined into tests/sweep_registry.py.

SWEPT_MODELS: model label -> make(practice, member=None). NOT_EXPOSED_BY_ID: label -> why no route
takes its id. STAFF_ROUTES: page route name -> model label of its last id kwarg.
"""

from collections.abc import Callable

from integrations.tests import factories as itf

SWEPT_MODELS: dict[str, Callable] = {
    "integrations.ImportJob": lambda p, member=None: itf.ImportJobFactory(practice=p),
    "integrations.ExternalRecord": lambda p, member=None: itf.ExternalRecordFactory(practice=p),
    "integrations.ExportJob": lambda p, member=None: itf.ExportJobFactory(practice=p),
}
NOT_EXPOSED_BY_ID: dict[str, str] = {
    "integrations.ExternalRecord": "Import bookkeeping (external id -> our row); no page or endpoint takes its id.",
}
STAFF_ROUTES: dict[str, str] = {
    "data_import_job": "integrations.ImportJob",
    "data_import_progress": "integrations.ImportJob",
    "data_import_run": "integrations.ImportJob",
    "data_export_download": "integrations.ExportJob",
}
