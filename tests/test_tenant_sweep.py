"""Cross-tenant sweep: a user of practice A gets 404 for every object of practice B, on every page
and API endpoint that takes an object id, for every verb, and the row is unchanged."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.forms.models import model_to_dict
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from practice import services
from practice.permissions import Role
from practice.scoping import PracticeScopedModel
from tests.sweep_registry import NOT_EXPOSED_BY_ID, SWEPT_MODELS, UI_ROUTES

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    converters: dict
    callback: object
    namespace: str


def _walk(patterns=None, prefix="", namespace=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield Route(
                entry.name or "", prefix + str(entry.pattern), entry.pattern.converters, entry.callback, namespace
            )


def _id_kwargs(route: Route) -> list[str]:
    return [
        k for k in route.converters if k != "practice_slug" and type(route.converters[k]).__name__ in ("UUIDConverter",)
    ] or [k for k in _route_kwargs(route) if k in ("public_id", "pk")]


def _route_kwargs(route: Route) -> list[str]:
    import re

    return re.findall(r"\(\?P<(\w+)>", route.route) + re.findall(r"<(?:\w+:)?(\w+)>", route.route)


def route_kwargs_for(route: Route, target) -> dict:
    """Object ids for a route: its last id kwarg is the target; earlier ones are its parents
    (`patient_id` -> target.patient), or the target itself when it is that model."""
    ids = _id_kwargs(route)
    kwargs = {}
    for key in ids:
        parent_name = key.removesuffix("_id")
        if key == ids[-1] or type(target).__name__.lower() == parent_name:
            kwargs[key] = target.public_id
        else:
            kwargs[key] = getattr(target, parent_name).public_id
    return kwargs


def _is_operator_admin(route: Route) -> bool:
    return route.route.startswith("admin/")  # Django admin of the SaaS operator: superusers only


def _is_api(route: Route) -> bool:
    # /fhir/R4/ is API too (DRF, token auth); its searches are swept in tests/test_fhir_sweep.py
    return route.route.startswith(("api/v1/", "fhir/R4/"))


def _is_portal(route: Route) -> bool:
    """Patient-side portal pages: swept patient against patient in tests/test_portal_sweep.py."""
    return route.route.startswith("portal/")


def _model_label(model) -> str:
    return model._meta.label


def _tenant_models():
    return [m for m in apps.get_models() if any(fld.name == "practice" for fld in m._meta.get_fields())]


def test_every_tenant_model_is_swept_or_exempt_with_a_reason():
    missing = [
        _model_label(m)
        for m in _tenant_models()
        if _model_label(m) not in SWEPT_MODELS and _model_label(m) not in NOT_EXPOSED_BY_ID
    ]
    assert missing == [], f"add these to tests/sweep_registry.py: {missing}"


def test_every_page_route_taking_an_object_id_is_swept():
    unswept = [
        r.route
        for r in _walk()
        if not _is_api(r)
        and not _is_operator_admin(r)
        and not _is_portal(r)
        and _id_kwargs(r)
        and r.name not in UI_ROUTES
    ]
    assert unswept == [], f"add these routes to UI_ROUTES in tests/sweep_registry.py: {unswept}"


def _api_routes():
    routes = [r for r in _walk() if _is_api(r) and hasattr(r.callback, "cls")]
    return [r for r in routes if getattr(r.callback.cls, "exposes_model", None) is not None]


def test_every_api_endpoint_exposing_a_model_is_swept():
    unswept = [
        (r.route, _model_label(r.callback.cls.exposes_model))
        for r in _api_routes()
        if _model_label(r.callback.cls.exposes_model) not in SWEPT_MODELS
    ]
    assert unswept == []
    # and every practice-scoped API view says what it exposes
    from practice.api_auth import PracticeScopedAPIMixin

    silent = [
        r.route
        for r in _walk()
        if _is_api(r)
        and hasattr(r.callback, "cls")
        and issubclass(r.callback.cls, PracticeScopedAPIMixin)
        and _id_kwargs(r)
        and getattr(r.callback.cls, "exposes_model", None) is None
    ]
    assert silent == []


def _snapshot(obj):
    with scopes_disabled():
        fresh = (
            type(obj).all_objects.get(pk=obj.pk)
            if hasattr(type(obj), "all_objects")
            else type(obj)._base_manager.get(pk=obj.pk)
        )
        # inside the unscoped block: model_to_dict reads many-to-many fields (waitlist clinicians)
        return model_to_dict(fresh)


def _make(label, practice):
    with scopes_disabled():
        return SWEPT_MODELS[label](practice)


@pytest.fixture
def owner_a(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="owner@riverside.test")


@pytest.mark.parametrize("route_name", sorted(UI_ROUTES))
def test_page_route_is_404_for_another_practices_object(route_name, client, login, owner_a, practice_b):
    target = _make(UI_ROUTES[route_name], practice_b)
    before = _snapshot(target)
    route = next(r for r in _walk() if r.name == route_name)
    kwargs = route_kwargs_for(route, target)
    if "practice_slug" in route.converters or "practice_slug" in _route_kwargs(route):
        kwargs["practice_slug"] = "riverside"
    url = reverse(route_name, kwargs=kwargs)
    login(owner_a)
    statuses = {method: getattr(client, method)(url).status_code for method in ("get", "post")}
    # 405 (a POST-only route answering GET) reveals nothing; at least one verb must reach the lookup
    assert set(statuses.values()) <= {404, 405} and 404 in statuses.values(), f"{url}: {statuses}"
    assert _snapshot(target) == before


def test_a_practice_slug_of_another_practice_is_404_on_every_page(client, login, owner_a, practice_b):
    login(owner_a)
    checked = 0
    for route in _walk():
        if _is_api(route) or "practice_slug" not in _route_kwargs(route):
            continue
        kwargs = {"practice_slug": "harbor"} | {k: uuid.uuid4() for k in _id_kwargs(route)}
        url = reverse(route.name, kwargs=kwargs)
        assert client.get(url).status_code == 404, url
        assert client.post(url).status_code == 404, url
        checked += 1
    assert checked >= 5


@pytest.fixture
def api_a(owner_a):
    _token, raw = services.api_token_issue(membership=owner_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_api_routes_are_404_for_another_practices_objects(api_a, practice_b):
    detail_routes = [r for r in _api_routes() if _id_kwargs(r)]
    assert detail_routes, "no API detail routes found"
    for route in detail_routes:
        label = _model_label(route.callback.cls.exposes_model)
        target = _make(label, practice_b)
        before = _snapshot(target)
        url = reverse(route.namespace + route.name, kwargs=route_kwargs_for(route, target))
        statuses = {
            method: getattr(api_a, method)(url, {}, format="json").status_code
            for method in ("get", "put", "patch", "delete", "post")
        }
        # 405 for a verb the endpoint lacks reveals nothing; the verbs it has must say 404
        assert set(statuses.values()) <= {404, 405} and 404 in statuses.values(), f"{url}: {statuses}"
        assert _snapshot(target) == before, url


def _is_list(route: Route) -> bool:
    from rest_framework.mixins import ListModelMixin

    actions = getattr(route.callback, "actions", None) or {}
    return actions.get("get") == "list" or (not actions and issubclass(route.callback.cls, ListModelMixin))


def test_api_lists_never_include_another_practices_objects(api_a, practice_b, practice_a):
    list_routes = [r for r in _api_routes() if _is_list(r)]
    assert list_routes
    for route in list_routes:
        label = _model_label(route.callback.cls.exposes_model)
        mine, theirs = _make(label, practice_a), _make(label, practice_b)
        body = api_a.get(reverse(route.namespace + route.name)).content.decode()
        assert str(theirs.public_id) not in body, route.route
        assert str(mine.public_id) in body or label == "practice.ApiToken", route.route


def test_sweep_registry_models_are_tenant_owned():
    for label in SWEPT_MODELS:
        assert issubclass(apps.get_model(label), PracticeScopedModel), label
