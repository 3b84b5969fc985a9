"""API keys across the whole API: every /api/v1/ view names its scope, and a key of practice A
holding every scope still gets 404 on practice B's objects (and never lists them)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.api_keys import DOMAINS, SCOPES, api_key_create
from practice.permissions import Role
from tests.test_tenant_sweep import (
    _api_routes,
    _id_kwargs,
    _is_api,
    _is_list,
    _make,
    _model_label,
    _snapshot,
    _walk,
    route_kwargs_for,
)

pytestmark = pytest.mark.django_db

# Credentials endpoints: a key must not mint, list or revoke user tokens, so they declare no scope.
# Credentials endpoints (keys must not mint user tokens) and public ones that read no practice data
# and authenticate nobody (FHIR's CapabilityStatement and its 404 for unknown paths).
NO_SCOPE = {"api_token_obtain", "api_token_list", "api_token_detail", "api_not_found", "fhir_metadata", "fhir_unknown"}


def _view_class(route):
    return getattr(route.callback, "cls", None) or getattr(route.callback, "view_class", None)


def test_every_api_view_declares_a_known_scope_or_is_a_credentials_endpoint():
    routes = [r for r in _walk() if _is_api(r)]
    assert len(routes) > 20
    domains = {domain for domain, _label in DOMAINS}
    missing, unknown = [], []
    for route in routes:
        scope = getattr(_view_class(route), "api_scope", None)
        if route.name in NO_SCOPE:
            assert scope is None, f"{route.route} is a credentials or public endpoint and must not take a scope"
        elif scope is None:
            missing.append(route.route)
        elif scope not in domains:
            unknown.append((route.route, scope))
    assert missing == [], f"add api_scope = '<domain>' to the views of: {missing}"
    assert unknown == []


@pytest.fixture
def key_a(make_member, practice_a):
    owner = make_member(practice_a, Role.OWNER, email="owner@riverside.test")
    _key, raw = api_key_create(by=owner, name="Everything", scopes=list(SCOPES), rate_limit_per_minute=10_000)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_key_with_every_scope_gets_404_for_another_practices_objects(key_a, practice_b):
    detail_routes = [r for r in _api_routes() if _id_kwargs(r)]
    assert detail_routes
    for route in detail_routes:
        target = _make(_model_label(route.callback.cls.exposes_model), practice_b)
        before = _snapshot(target)
        url = reverse(route.namespace + route.name, kwargs=route_kwargs_for(route, target))
        statuses = {
            method: getattr(key_a, method)(url, {}, format="json").status_code
            for method in ("get", "put", "patch", "delete", "post")
        }
        if getattr(route.callback.cls, "api_scope", None) is None:
            # refused before any lookup: says nothing about the object
            assert set(statuses.values()) <= {403, 405}, f"{url}: {statuses}"
        else:
            assert set(statuses.values()) <= {404, 405} and 404 in statuses.values(), f"{url}: {statuses}"
        assert _snapshot(target) == before, url


def test_a_key_never_lists_another_practices_objects(key_a, practice_a, practice_b):
    list_routes = [r for r in _api_routes() if _is_list(r) and getattr(r.callback.cls, "api_scope", None)]
    assert list_routes
    for route in list_routes:
        label = _model_label(route.callback.cls.exposes_model)
        theirs = _make(label, practice_b)
        response = key_a.get(reverse(route.namespace + route.name))
        assert response.status_code == 200, (route.route, response.status_code)
        assert str(theirs.public_id) not in response.content.decode(), route.route
