"""Cross-tenant sweep of /fhir/R4/: for every FHIR route exposing a practice's rows, a user of
practice A gets a 404 OperationOutcome on practice B's ids and never sees them in a search.

Routes are discovered from the URL conf (like tests/test_tenant_sweep.py), so a new FHIR
resource type cannot escape; rows are made with tests/sweep_registry.py's makers.
"""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from integrations.fhir.views import FhirView, ResourceTypeView
from practice import services
from practice.permissions import Role
from tests.sweep_registry import SWEPT_MODELS
from tests.test_tenant_sweep import _id_kwargs, _walk, route_kwargs_for

pytestmark = pytest.mark.django_db


def _fhir_routes():
    return [r for r in _walk() if r.route.startswith("fhir/R4/") and hasattr(r.callback, "cls")]


def _read_routes():
    return [r for r in _fhir_routes() if _id_kwargs(r)]


def _exposed_types() -> dict[str, str]:
    """FHIR resource type -> model label of the rows it shows."""
    return {
        r.callback.cls.resource_type: r.callback.cls.exposes_model._meta.label
        for r in _fhir_routes()
        if issubclass(r.callback.cls, ResourceTypeView) and r.callback.cls.exposes_model is not None
    }


@pytest.fixture
def owner_a(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="owner@riverside.test")


@pytest.fixture
def api_a(owner_a):
    _token, raw = services.api_token_issue(membership=owner_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_every_fhir_route_is_a_fhir_view_and_every_id_route_names_its_model():
    routes = _fhir_routes()
    assert len(routes) >= 14
    assert all(issubclass(r.callback.cls, FhirView) for r in routes)
    assert {r.name for r in _read_routes()} == {
        "fhir_patient_read",
        "fhir_practitioner_read",
        "fhir_appointment_read",
        "fhir_response_read",
        "fhir_observation_total",
        "fhir_observation_risk",
    }
    for route in _read_routes():
        model = route.callback.cls.exposes_model
        assert model is not None and model._meta.label in SWEPT_MODELS, route.route


@pytest.mark.parametrize("route_name", sorted(r.name for r in _read_routes()))
def test_fhir_read_is_404_for_another_practices_object(route_name, api_a, practice_b):
    route = next(r for r in _read_routes() if r.name == route_name)
    label = route.callback.cls.exposes_model._meta.label
    with scopes_disabled():
        target = SWEPT_MODELS[label](practice_b)
    url = reverse(route.name, kwargs=route_kwargs_for(route, target))
    statuses = {method: getattr(api_a, method)(url).status_code for method in ("get", "post", "put", "delete")}
    assert statuses == {"get": 404, "post": 405, "put": 405, "delete": 405}, url
    # indistinguishable from an id that never existed
    unknown = uuid.uuid4()
    body = api_a.get(url).content.decode().replace(str(target.public_id), str(unknown))
    assert body == api_a.get(url.replace(str(target.public_id), str(unknown))).content.decode()
    assert '"resourceType":"OperationOutcome"' in body


@pytest.mark.parametrize("resource_type", sorted(_exposed_types()))
def test_fhir_search_never_includes_another_practices_rows(resource_type, api_a, practice_a, practice_b, owner_a):
    label = _exposed_types()[resource_type]
    with scopes_disabled():
        mine = SWEPT_MODELS[label](practice_a, owner_a)
        theirs = SWEPT_MODELS[label](practice_b)
    body = api_a.get(f"/fhir/R4/{resource_type}", {"_count": "200"}).content.decode()
    assert str(mine.public_id) in body, resource_type  # the search works at all
    assert str(theirs.public_id) not in body, resource_type
    # and asking for it by id or by its patient finds nothing
    their_id = f"{theirs.public_id}-total" if resource_type == "Observation" else str(theirs.public_id)
    assert api_a.get(f"/fhir/R4/{resource_type}", {"_id": their_id}).json()["total"] == 0
    view = next(r.callback.cls for r in _fhir_routes() if getattr(r.callback.cls, "resource_type", "") == resource_type)
    patient = getattr(theirs, "patient", None)
    if patient is not None and "patient" in view.search_params:
        by_patient = api_a.get(f"/fhir/R4/{resource_type}", {"patient": f"Patient/{patient.public_id}"}).json()
        assert by_patient["total"] == 0, resource_type
