import pytest
from django_scopes import scopes_disabled

from practice import selectors, services
from practice.errors import DomainError
from practice.models import Location
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


def test_a_shared_object_is_visible_to_the_grantee_only(practice_a, make_member):
    owner = make_member(practice_a, Role.OWNER)
    grantee, other = make_member(practice_a), make_member(practice_a)
    with practice_scope(practice_a):
        shared, private = LocationFactory(practice=practice_a), LocationFactory(practice=practice_a)
        services.object_access_grant(by=owner, to=grantee, obj=shared)
        mine = selectors.objects_granted_to(membership=grantee, queryset=Location.objects.all())
        assert list(mine) == [shared]
        assert list(selectors.objects_granted_to(membership=other, queryset=Location.objects.all())) == []
        services.object_access_revoke(by=owner, to=grantee, obj=shared)
        assert not selectors.objects_granted_to(membership=grantee, queryset=Location.objects.all()).exists()
        assert private.pk


def test_a_grant_cannot_cross_practices(practice_a, practice_b, make_member):
    owner_a = make_member(practice_a, Role.OWNER)
    member_b = make_member(practice_b)
    with scopes_disabled():
        loc_a = LocationFactory(practice=practice_a)
    with pytest.raises(DomainError):
        services.object_access_grant(by=owner_a, to=member_b, obj=loc_a)


def test_a_grant_outside_the_scope_shows_nothing_in_another_practice(practice_a, practice_b, make_member):
    """Even a (wrongly made) grant on practice A's row is invisible inside practice B's scope."""
    from guardian.shortcuts import assign_perm

    member = make_member(practice_a)
    make_member(practice_b, user=member.user)
    with scopes_disabled():
        loc_a = LocationFactory(practice=practice_a)
    assign_perm("view_location", member.user, loc_a)
    with practice_scope(practice_b):
        assert list(selectors.objects_granted_to(membership=member, queryset=Location.objects.all())) == []
