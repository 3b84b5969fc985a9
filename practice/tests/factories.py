from __future__ import annotations

from datetime import timedelta

import factory
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from practice.middleware import SESSION_LAST_ACTIVITY, SESSION_LOGIN_AT
from practice.models import ApiToken, Invitation, Location, Membership, Practice, User
from practice.permissions import Role

DEFAULT_PASSWORD = "correct horse battery staple"


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Practice {n}")
    slug = factory.Sequence(lambda n: f"practice-{n}")
    timezone = "America/New_York"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create and results:
            instance.save(update_fields=["password"])


class MembershipFactory(factory.django.DjangoModelFactory):
    """Create inside scopes_disabled() or a practice_scope (the manager is scoped)."""

    class Meta:
        model = Membership

    practice = factory.SubFactory(PracticeFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.CLINICIAN
    is_active = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.all_objects.create(*args, **kwargs)


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Office {n}")
    address_line1 = "100 Main Street"
    city = "Springfield"
    state = "MA"
    postal_code = "01103"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.all_objects.create(*args, **kwargs)


def totp_device_for(user: User, *, confirmed: bool = True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="test", confirmed=confirmed)


def totp_now(device: TOTPDevice) -> str:
    """The current code of a device, as an authenticator app would show it."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift):0{device.digits}d}"


def sign_in(client: Client, who: Membership | User, *, verified: bool = True) -> Client:
    """Sign a test client in, with an MFA-verified session (as after the TOTP step) by default."""
    user = who.user if isinstance(who, Membership) else who
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    now = timezone.now().isoformat()
    session[SESSION_LOGIN_AT] = now
    session[SESSION_LAST_ACTIVITY] = now
    if verified:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or totp_device_for(user)
        session["otp_device_id"] = device.persistent_id
    session.save()
    return client


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    practice = factory.SubFactory(PracticeFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Role.CLINICIAN
    token_hash = factory.Sequence(lambda n: f"{n:064d}")
    invited_by = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.OWNER))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.all_objects.create(*args, **kwargs)


class ApiTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiToken

    practice = factory.SubFactory(PracticeFactory)
    membership = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice))
    name = "script"
    key_prefix = "tend_abcdefg"
    key_hash = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=90))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.all_objects.create(*args, **kwargs)
