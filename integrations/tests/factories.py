"""Factories for integrations. Create inside practice_scope(...) or scopes_disabled()."""

from __future__ import annotations

import hashlib
import secrets

import factory

from billing.crypto import encrypt
from clinical.tests.factories import ScopedFactory
from integrations import models as m
from practice.permissions import Role
from practice.tests.factories import MembershipFactory, PracticeFactory


def _admin(o):
    return MembershipFactory(practice=o.practice, role=Role.ADMIN)


class ApiKeyFactory(ScopedFactory):
    class Meta:
        model = m.ApiKey

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Integration {n}")
    key_prefix = factory.LazyFunction(lambda: "tendk_" + secrets.token_hex(3))
    key_hash = factory.LazyFunction(lambda: hashlib.sha256(secrets.token_bytes(16)).hexdigest())
    scopes = factory.LazyFunction(lambda: ["clinical:read"])
    created_by = factory.LazyAttribute(_admin)


class WebhookEndpointFactory(ScopedFactory):
    class Meta:
        model = m.WebhookEndpoint

    practice = factory.SubFactory(PracticeFactory)
    url = "http://127.0.0.1:9/hooks"
    events = factory.LazyFunction(lambda: ["appointment.created"])
    secret_encrypted = factory.LazyFunction(lambda: encrypt("whsec_" + secrets.token_hex(16)))


class WebhookDeliveryFactory(ScopedFactory):
    class Meta:
        model = m.WebhookDelivery

    practice = factory.SubFactory(PracticeFactory)
    endpoint = factory.LazyAttribute(lambda o: WebhookEndpointFactory(practice=o.practice))
    event_type = "appointment.created"
    payload = factory.LazyFunction(dict)


class ImportJobFactory(ScopedFactory):
    class Meta:
        model = m.ImportJob

    practice = factory.SubFactory(PracticeFactory)
    kind = m.ImportJob.Kind.PATIENTS
    filename = "patients.csv"
    content = "external_id,first_name,last_name,date_of_birth\nX1,Ana,Lopez,1990-01-02\n"
    headers = factory.LazyFunction(lambda: ["external_id", "first_name", "last_name", "date_of_birth"])
    created_by = factory.LazyAttribute(_admin)


class ExternalRecordFactory(ScopedFactory):
    class Meta:
        model = m.ExternalRecord

    practice = factory.SubFactory(PracticeFactory)
    kind = m.ImportJob.Kind.PATIENTS
    external_id = factory.Sequence(lambda n: f"EXT{n}")
    object_public_id = factory.Faker("uuid4", cast_to=None)


class ExportJobFactory(ScopedFactory):
    class Meta:
        model = m.ExportJob

    practice = factory.SubFactory(PracticeFactory)
    requested_by = factory.LazyAttribute(lambda o: MembershipFactory(practice=o.practice, role=Role.OWNER))
