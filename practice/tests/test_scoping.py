"""The tenancy guard rails themselves."""

import pytest
from auditlog.registry import auditlog
from django.apps import apps
from django_scopes import ScopeError, scopes_disabled

from practice.models import Invitation, Location
from practice.permissions import Role
from practice.scoping import PracticeScopedModel, is_scoped_manager, practice_scope
from practice.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


def _models_with_a_practice_field():
    return [
        m
        for m in apps.get_models()
        if any(f.name == "practice" for f in m._meta.get_fields()) and m._meta.app_label != "auth"
    ]


def test_every_model_with_a_practice_field_has_the_scoped_default_manager():
    models = _models_with_a_practice_field()
    assert Location in models
    unscoped = [m._meta.label for m in models if not is_scoped_manager(m._default_manager)]
    assert unscoped == []


def test_every_tenant_owned_model_is_in_the_change_audit_log():
    owned = [m for m in apps.get_models() if issubclass(m, PracticeScopedModel)]
    assert owned
    missing = [m._meta.label for m in owned if not auditlog.contains(m)]
    assert missing == []


def test_a_query_without_a_practice_scope_raises(practice_a):
    with pytest.raises(ScopeError):
        list(Location.objects.all())
    with pytest.raises(ScopeError):
        Location.objects.filter(name="x").exists()


def test_scope_shows_only_that_practices_rows(practice_a, practice_b):
    LocationFactory(practice=practice_a, name="A office")
    LocationFactory(practice=practice_b, name="B office")
    with practice_scope(practice_a):
        assert list(Location.objects.values_list("name", flat=True)) == ["A office"]
    with practice_scope(practice_b.pk):
        assert list(Location.objects.values_list("name", flat=True)) == ["B office"]


def test_a_scope_of_none_is_refused_rather_than_meaning_all_practices():
    with pytest.raises(ScopeError), practice_scope(None):
        pass


def test_a_task_given_the_wrong_practice_touches_nothing(practice_a, practice_b, make_member):
    from practice import services
    from practice.tasks import invitation_send_task

    owner = make_member(practice_a, Role.OWNER)
    with scopes_disabled():
        invitation = services.invitation_create(by=owner, email="x@example.test", role=Role.CLINICIAN)
    assert invitation_send_task.delay(practice_id=practice_b.pk, invitation_id=invitation.pk).get() is False
    with scopes_disabled():
        assert Invitation.objects.get(pk=invitation.pk).sent_at is None
