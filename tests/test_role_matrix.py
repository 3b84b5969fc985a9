"""Route x role matrix: every practice page declares the permission it needs, and each role gets
exactly what practice.permissions.ROLE_PERMISSIONS says — 403 otherwise."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from practice.permissions import ROLE_PERMISSIONS, Role, role_has_perm
from practice.tests import factories as f
from tests.sweep_registry import SWEPT_MODELS, UI_ROUTES
from tests.test_tenant_sweep import _id_kwargs, _is_api, _route_kwargs, _walk, route_kwargs_for

pytestmark = pytest.mark.django_db


def _practice_routes():
    return [r for r in _walk() if not _is_api(r) and "practice_slug" in _route_kwargs(r)]


def test_every_practice_page_declares_its_permission():
    routes = _practice_routes()
    assert len(routes) >= 10
    undeclared = [r.route for r in routes if getattr(r.callback, "required_perm", None) is None]
    assert undeclared == []


def test_every_role_has_a_permission_set_and_owner_has_all():
    assert set(ROLE_PERMISSIONS) == set(Role.values)
    assert all(ROLE_PERMISSIONS[Role.OWNER] >= perms for perms in ROLE_PERMISSIONS.values())


def test_front_desk_and_biller_never_see_note_content():
    from practice.permissions import Perm

    for role in (Role.FRONT_DESK, Role.BILLER):
        assert not role_has_perm(role, Perm.CHART_VIEW_CLINICAL)
        assert not role_has_perm(role, Perm.NOTE_WRITE)


@pytest.mark.parametrize("role", Role.values)
def test_each_role_reaches_exactly_the_pages_its_permissions_allow(role, practice_a, make_member):
    member = make_member(practice_a, role, email=f"{role}@riverside.test")
    client = f.sign_in(Client(), member)
    wrong = []
    for route in _practice_routes():
        kwargs = {"practice_slug": practice_a.slug}
        if _id_kwargs(route):
            with scopes_disabled():
                # the member's own object (their patient, their note), so only the role decides
                target = SWEPT_MODELS[UI_ROUTES[route.name]](practice_a, member)
            kwargs |= route_kwargs_for(route, target)
        url = reverse(route.name, kwargs=kwargs)
        status = client.get(url).status_code
        if status == 405:
            status = client.post(url).status_code
        allowed = role_has_perm(role, route.callback.required_perm)
        if (allowed and status in (403, 404, 500)) or (not allowed and status != 403):
            wrong.append((route.name, status, "allowed" if allowed else "denied"))
    assert wrong == []


@pytest.mark.parametrize("role", Role.values)
def test_every_navigation_link_a_role_sees_opens_for_that_role(role, practice_a, make_member):
    import re

    member = make_member(practice_a, role, email=f"nav-{role}@riverside.test")
    client = f.sign_in(Client(), member)
    page = client.get(f"/p/{practice_a.slug}/").content.decode()
    links = set(re.findall(r'class="nav__link[^"]*" href="([^"]+)"', page))
    assert links, "the sidebar shows no links"
    broken = {href: client.get(href).status_code for href in links}
    assert {href: code for href, code in broken.items() if code != 200} == {}
