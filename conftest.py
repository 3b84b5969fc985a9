"""Shared fixtures. Every world has two practices, so every test can check the other one."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory, UserFactory

DEFAULT_PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def practice_a(db):
    return PracticeFactory(name="Riverside Counseling", slug="riverside")


@pytest.fixture
def practice_b(db):
    return PracticeFactory(name="Harbor Behavioral Health", slug="harbor")


@pytest.fixture
def make_member(db):
    """make_member(practice, role, **user_fields) -> Membership (password DEFAULT_PASSWORD)."""

    def make(practice, role=Role.CLINICIAN, **kwargs):
        user = kwargs.pop("user", None) or UserFactory(
            **{k: kwargs.pop(k) for k in list(kwargs) if k in ("email", "full_name")}
        )
        with scopes_disabled():
            return MembershipFactory(practice=practice, user=user, role=role, **kwargs)

    return make


@pytest.fixture
def clinician_a(make_member, practice_a):
    return make_member(practice_a, Role.CLINICIAN, email="clinician@riverside.test")


@pytest.fixture
def clinician_b(make_member, practice_b):
    return make_member(practice_b, Role.CLINICIAN, email="clinician@harbor.test")


@pytest.fixture
def login(client):
    """login(membership_or_user, verified=True): a signed-in test client (MFA marked verified)."""
    from practice.tests.factories import sign_in

    def do(who, verified=True, c=None):
        return sign_in(c or client, who, verified=verified)

    return do
