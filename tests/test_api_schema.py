"""The OpenAPI schema: it generates without a warning, and schemathesis finds no 5xx and no answer
that breaks the schema (status code, content type, body) on any operation.

Schemathesis runs in process against the WSGI app, authenticated with an owner's user token on a
practice seeded with one row of every model (from the tenant sweep's makers). Each operation gets a
few derandomized examples with random ids, and a few with the ids of real rows, so responses with
bodies are checked too. Writes can change the seeded rows; that is fine, nothing is shared.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from practice import services
from practice.permissions import Role
from tests.sweep_registry import SWEPT_MODELS
from tests.test_tenant_sweep import _is_api, _walk, route_kwargs_for

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_RANDOM_IDS = 3  # per operation; with no path parameter this is the only pass
EXAMPLES_REAL_IDS = 4


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "apiKeyAuth" in text and "tokenAuth" in text


@contextmanager
def _one_connection_per_test():
    """As Django's test client does: the WSGI handler must not close the test's DB connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(practice_a, make_member):
    """An owner's token and one row of every swept model of the practice (label -> row)."""
    owner = make_member(practice_a, Role.OWNER, email="owner@riverside.test")
    rows = {}
    with scopes_disabled():
        for label, make in SWEPT_MODELS.items():
            rows[label] = make(practice_a, owner)
    _token, raw = services.api_token_issue(membership=owner)
    return {"token": raw, "rows": rows}


def _real_path_parameters(operation, rows: dict) -> dict | None:
    """Ids of seeded rows for an operation's path parameters, when its view says what it exposes."""
    names = [p.name for p in operation.path_parameters]
    if not names:
        return None
    probe = operation.path
    for name in names:
        probe = probe.replace("{" + name + "}", str(uuid.uuid4()))
    try:
        match = resolve(probe)
    except Resolver404:
        return None
    model = getattr(getattr(match.func, "cls", None), "exposes_model", None)
    if model is None or model._meta.label not in rows:
        return None
    route = next(r for r in _walk() if _is_api(r) and r.name == match.url_name)
    with scopes_disabled():
        kwargs = route_kwargs_for(route, rows[model._meta.label])
    if set(kwargs) != set(names):
        return None
    return {name: str(value) for name, value in kwargs.items()}


def _run(operation, strategy, headers: dict, examples: int, failures: list) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report, do not minimise
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # collected: every operation gets its turn
        failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")


def test_schemathesis_finds_no_server_error_and_no_schema_violation(seeded, settings):
    settings.API_USER_TOKEN_RATE_PER_MINUTE = 100_000
    spec = APIClient().get("/api/schema/?format=json").json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = WSGIHandler()
    headers = {"Authorization": f"Bearer {seeded['token']}"}
    failures: list[str] = []
    operations = 0
    with _one_connection_per_test():
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            _run(operation, operation.as_strategy(), headers, EXAMPLES_RANDOM_IDS, failures)
            real = _real_path_parameters(operation, seeded["rows"])
            if real:
                _run(operation, operation.as_strategy(path_parameters=real), headers, EXAMPLES_REAL_IDS, failures)
    assert operations >= 40
    assert failures == [], "\n\n".join(failures)
