"""Patient-to-patient sweep: a portal user acting for patient X gets 404 on every portal route for
patient Y's objects (same practice and another practice), for every verb, and the row is unchanged.
A positive control on each route proves the route does find X's own object."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from clinical.tests.factories import PatientFactory
from portal.tests import sweep_account, sweep_appointments, sweep_intake, sweep_messages, sweep_records
from portal.tests.factories import PortalAccessFactory
from tests.test_tenant_sweep import _id_kwargs, _is_portal, _snapshot, _walk, route_kwargs_for

pytestmark = pytest.mark.django_db

PATIENT_ROUTES: dict = {}
for _area in (sweep_account, sweep_appointments, sweep_intake, sweep_messages, sweep_records):
    PATIENT_ROUTES.update(_area.PATIENT_ROUTES)


def _portal_id_routes():
    return [r for r in _walk() if _is_portal(r) and _id_kwargs(r)]


def test_every_portal_route_taking_an_object_id_is_swept():
    unswept = [r.route for r in _portal_id_routes() if r.name not in PATIENT_ROUTES]
    assert unswept == [], f"add these routes to PATIENT_ROUTES in portal/tests/sweep_<area>.py: {unswept}"


@pytest.fixture
def patient_x(practice_a):
    with scopes_disabled():
        return PortalAccessFactory(practice=practice_a)


def _url(route_name: str, target) -> str:
    route = next(r for r in _walk() if r.name == route_name)
    return reverse(route_name, kwargs=route_kwargs_for(route, target))


def _sign_in(client, access) -> None:
    client.force_login(access.user)


@pytest.mark.parametrize("route_name", sorted(PATIENT_ROUTES))
def test_portal_route_is_404_for_another_patients_object(route_name, client, patient_x, practice_a, practice_b):
    with scopes_disabled():
        same_practice_other = PatientFactory(practice=practice_a)
        other_practice = PatientFactory(practice=practice_b)
        targets = [PATIENT_ROUTES[route_name](same_practice_other), PATIENT_ROUTES[route_name](other_practice)]
        own = PATIENT_ROUTES[route_name](patient_x.patient)
    _sign_in(client, patient_x)
    # positive control: the route finds X's own object (any status but 404)
    assert client.get(_url(route_name, own)).status_code != 404, route_name
    for target in targets:
        before = _snapshot(target)
        url = _url(route_name, target)
        statuses = {method: getattr(client, method)(url).status_code for method in ("get", "post")}
        assert set(statuses.values()) <= {404, 405} and 404 in statuses.values(), f"{url}: {statuses}"
        assert _snapshot(target) == before


def test_staff_user_without_portal_access_cannot_use_the_portal(client, make_member, practice_a):
    from practice.permissions import Role

    member = make_member(practice_a, Role.OWNER)
    client.force_login(member.user)
    response = client.get(reverse("portal_home"))
    assert response.status_code in (302, 403)
    assert response.status_code == 403 or "portal" in response["Location"]
