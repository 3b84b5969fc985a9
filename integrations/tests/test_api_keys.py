"""Per-practice API keys: hashing, scopes, authentication, rate limits, the access log and the page."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from clinical.tests import factories as cf
from integrations import api_keys
from integrations.api_keys import SCOPES, api_key_create, api_key_revoke, hash_key, key_allows, scope_needed
from integrations.models import ApiKey
from practice import services
from practice.errors import DomainError
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db

RAW_KEY = re.compile(r"tendk_[A-Za-z0-9_-]{40,}")


@pytest.fixture
def owner_a(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="owner@riverside.test")


@pytest.fixture
def patient_a(practice_a, owner_a):
    with scopes_disabled():
        return cf.PatientFactory(practice=practice_a, primary_clinician=owner_a)


def make_key(member, scopes=("clinical:read",), rate=120) -> tuple[ApiKey, str]:
    return api_key_create(by=member, name="Warehouse", scopes=list(scopes), rate_limit_per_minute=rate)


def client_for(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) >= {"status", "code", "message", "fields"}
    assert body["error"]["status"] == response.status_code
    return body["error"]


# --- Unit: hashing and scopes ------------------------------------------------------------------


def test_a_new_key_is_random_and_only_its_hash_and_prefix_are_stored(owner_a):
    key, raw = make_key(owner_a)
    _other, raw2 = make_key(owner_a)
    assert RAW_KEY.fullmatch(raw) and raw != raw2
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest() == hash_key(raw)
    assert key.key_prefix == raw[:12] and raw not in (key.key_hash, key.key_prefix)
    with scopes_disabled():
        stored = ApiKey.all_objects.values_list("key_hash", "key_prefix", "name", "scopes")
        assert all(raw not in str(row) for row in stored)


def test_safe_methods_need_read_and_the_others_need_write():
    assert scope_needed(domain="clinical", method="GET") == "clinical:read"
    assert scope_needed(domain="clinical", method="head") == "clinical:read"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert scope_needed(domain="billing", method=method) == "billing:write"


def test_a_key_is_allowed_only_within_its_scopes_and_never_without_a_domain():
    key = ApiKey(scopes=["clinical:read", "scheduling:write"])
    assert key_allows(key, domain="clinical", method="GET")
    assert not key_allows(key, domain="clinical", method="POST")  # write is not implied by read
    assert key_allows(key, domain="scheduling", method="PATCH")
    assert not key_allows(key, domain="scheduling", method="GET")  # nor read by write
    assert not key_allows(key, domain=None, method="GET")


def test_scopes_are_checked_and_stored_in_one_order(owner_a):
    key, _raw = make_key(owner_a, scopes=["billing:read", "clinical:write", "clinical:read"])
    assert key.scopes == ["clinical:read", "clinical:write", "billing:read"]
    with pytest.raises(DomainError) as unknown:
        make_key(owner_a, scopes=["clinical:admin"])
    assert unknown.value.field == "scopes"
    with pytest.raises(DomainError):
        make_key(owner_a, scopes=[])
    with pytest.raises(DomainError) as limit:
        make_key(owner_a, rate=0)
    assert limit.value.field == "rate_limit_per_minute"


def test_only_owners_and_admins_create_and_revoke_keys(owner_a, make_member, practice_a):
    clinician = make_member(practice_a, Role.CLINICIAN)
    admin = make_member(practice_a, Role.ADMIN)
    with pytest.raises(DomainError):
        make_key(clinician)
    key, _raw = make_key(admin)
    with practice_scope(practice_a), pytest.raises(DomainError):
        api_key_revoke(key=key, by=clinician)
    with practice_scope(practice_a):
        assert api_key_revoke(key=key, by=owner_a).revoked_by == owner_a


def test_a_key_of_another_practice_cannot_be_revoked(owner_a, make_member, practice_b):
    key, _raw = make_key(make_member(practice_b, Role.OWNER))
    with pytest.raises(DomainError):
        api_key_revoke(key=key, by=owner_a)
    key.refresh_from_db()
    assert key.revoked_at is None


# --- Through the API ---------------------------------------------------------------------------


def test_a_key_reads_within_its_scope_and_the_access_log_names_it(owner_a, patient_a):
    key, raw = make_key(owner_a, scopes=["clinical:read"])
    response = client_for(raw).get(f"/api/v1/patients/{patient_a.public_id}/")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(patient_a.public_id)
    with scopes_disabled():
        event = AccessEvent.all_objects.get(action=AccessEvent.Action.VIEW, object_id=str(patient_a.public_id))
    assert event.user_id == owner_a.user_id and event.api_token_id is None
    assert str(key.public_id) in event.reason


def test_a_key_acts_for_its_creator_in_its_practice(owner_a):
    _key, raw = make_key(owner_a, scopes=["practice:read"])
    body = client_for(raw).get("/api/v1/me/").json()
    assert body["auth"] == "api_key"
    assert body["practice"]["slug"] == "riverside"
    assert body["user"]["email"] == "owner@riverside.test"


def test_a_key_outside_its_scope_is_403_naming_the_scope(owner_a, patient_a):
    _key, raw = make_key(owner_a, scopes=["clinical:read"])
    client = client_for(raw)
    response = client.get("/api/v1/locations/")
    assert response.status_code == 403
    assert "practice:read" in error(response)["message"]
    write = client.patch(f"/api/v1/patients/{patient_a.public_id}/", {"preferred_name": "X"}, format="json")
    assert write.status_code == 403 and "clinical:write" in error(write)["message"]
    with scopes_disabled():
        patient_a.refresh_from_db()
    assert patient_a.preferred_name != "X"


def test_a_write_scope_lets_a_key_write(owner_a, patient_a):
    _key, raw = make_key(owner_a, scopes=["clinical:write"])
    response = client_for(raw).patch(
        f"/api/v1/patients/{patient_a.public_id}/", {"preferred_name": "Sunny"}, format="json"
    )
    assert response.status_code == 200, response.content
    with scopes_disabled():
        patient_a.refresh_from_db()
    assert patient_a.preferred_name == "Sunny"


def test_a_key_is_refused_where_the_view_declares_no_scope(owner_a):
    _key, raw = make_key(owner_a, scopes=list(SCOPES))
    response = client_for(raw).get("/api/v1/auth/tokens/")
    assert response.status_code == 403
    assert "API keys cannot use this endpoint" in error(response)["message"]


def test_a_revoked_key_is_401_with_a_clear_message(owner_a):
    key, raw = make_key(owner_a, scopes=["practice:read"])
    assert client_for(raw).get("/api/v1/me/").status_code == 200
    with practice_scope(owner_a.practice):
        api_key_revoke(key=key, by=owner_a)
    response = client_for(raw).get("/api/v1/me/")
    assert response.status_code == 401
    assert error(response)["message"] == "This API key has been revoked."
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_key_whose_creator_left_is_401(owner_a, make_member, practice_a):
    admin = make_member(practice_a, Role.ADMIN)
    _key, raw = make_key(admin, scopes=["practice:read"])
    admin.is_active = False
    with scopes_disabled():
        admin.save(update_fields=["is_active"])
    response = client_for(raw).get("/api/v1/me/")
    assert response.status_code == 401
    assert "no longer active" in error(response)["message"]


def test_an_unknown_key_is_401(db):
    response = client_for("tendk_" + "x" * 43).get("/api/v1/me/")
    assert response.status_code == 401
    assert error(response)["message"] == "Invalid API key."


def test_user_tokens_are_unaffected_by_scopes(owner_a):
    _token, raw = services.api_token_issue(membership=owner_a)
    client = client_for(raw)
    assert client.get("/api/v1/auth/tokens/").status_code == 200
    assert client.get("/api/v1/locations/").status_code == 200
    assert client.get("/api/v1/me/").json()["auth"] == "token"


def test_last_used_at_is_set_and_written_at_most_once_a_minute(owner_a):
    key, raw = make_key(owner_a, scopes=["practice:read"])
    assert key.last_used_at is None
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client_for(raw).get("/api/v1/me/")
    key.refresh_from_db()
    assert key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client_for(raw).get("/api/v1/me/")
    key.refresh_from_db()
    assert key.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client_for(raw).get("/api/v1/me/")
    key.refresh_from_db()
    assert key.last_used_at == start + timedelta(seconds=61)


# --- Rate limits -------------------------------------------------------------------------------


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(owner_a):
    _key, raw = make_key(owner_a, scopes=["practice:read"], rate=2)
    client = client_for(raw)
    minute = timezone.now().replace(second=10, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(minute, tick=False):
        assert [client.get("/api/v1/me/").status_code for _ in range(2)] == [200, 200]
        response = client.get("/api/v1/me/")
        assert response.status_code == 429
        assert error(response)["code"] == "throttled"
        assert response["Retry-After"] == "50"
    with time_machine.travel(minute + timedelta(minutes=1), tick=False):
        assert client.get("/api/v1/me/").status_code == 200  # a new minute, a new allowance


def test_each_key_has_its_own_limit(owner_a):
    _slow, slow_raw = make_key(owner_a, scopes=["practice:read"], rate=1)
    _fast, fast_raw = make_key(owner_a, scopes=["practice:read"], rate=5)
    minute = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(minute, tick=False):
        assert client_for(slow_raw).get("/api/v1/me/").status_code == 200
        assert client_for(slow_raw).get("/api/v1/me/").status_code == 429
        assert [client_for(fast_raw).get("/api/v1/me/").status_code for _ in range(5)] == [200] * 5


def test_user_tokens_share_a_per_user_rate_from_settings(owner_a, settings):
    settings.API_USER_TOKEN_RATE_PER_MINUTE = 3
    _t1, raw1 = services.api_token_issue(membership=owner_a)
    _t2, raw2 = services.api_token_issue(membership=owner_a)
    minute = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(minute, tick=False):
        codes = [client_for(raw).get("/api/v1/me/").status_code for raw in (raw1, raw2, raw1, raw2)]
    assert codes == [200, 200, 200, 429]


# --- The one error shape -----------------------------------------------------------------------


def test_401_403_404_405_and_429_share_the_error_shape(owner_a, make_member, practice_a):
    assert error(APIClient().get("/api/v1/me/"))["status"] == 401
    front_desk = make_member(practice_a, Role.FRONT_DESK)
    _token, raw = services.api_token_issue(membership=front_desk)
    desk = client_for(raw)
    assert error(desk.get("/api/v1/notes/"))["status"] == 403
    assert error(desk.get("/api/v1/no-such-thing/"))["status"] == 404
    assert error(desk.delete("/api/v1/me/"))["status"] == 405
    _key, key_raw = make_key(owner_a, scopes=["practice:read"], rate=1)
    with time_machine.travel(timezone.now().replace(second=0) + timedelta(minutes=1), tick=False):
        client_for(key_raw).get("/api/v1/me/")
        assert error(client_for(key_raw).get("/api/v1/me/"))["status"] == 429


def test_the_api_docs_describe_the_key_scheme(client):
    schema = client.get("/api/schema/?format=json").json()
    schemes = schema["components"]["securitySchemes"]
    assert {"tokenAuth", "apiKeyAuth"} <= set(schemes)
    assert "scope" in schemes["apiKeyAuth"]["description"]
    assert "otp" in schema["info"]["description"] and "/api/v1/auth/token/" in schema["info"]["description"]


def test_the_docs_page_loads_only_same_origin_assets(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<style" not in html and re.search(r"<script>(?!</script>)", html) is None  # no inline code
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


# --- The page ----------------------------------------------------------------------------------

PAGE = "/p/riverside/integrations/api-keys/"


def test_creating_a_key_shows_it_once(client, login, owner_a):
    login(owner_a)
    assert client.get(PAGE).status_code == 200
    response = client.post(
        PAGE,
        {"name": "Outcomes warehouse", "scopes": ["clinical:read", "assessments:read"], "rate_limit_per_minute": 60},
    )
    assert response.status_code == 200
    raw = RAW_KEY.search(response.content.decode()).group(0)
    with scopes_disabled():
        key = ApiKey.all_objects.get()
    assert key.key_hash == hash_key(raw) and key.scopes == ["clinical:read", "assessments:read"]
    assert key.rate_limit_per_minute == 60 and key.created_by == owner_a
    listing = client.get(PAGE).content.decode()
    assert "Outcomes warehouse" in listing and key.key_prefix in listing
    assert raw not in listing and RAW_KEY.search(listing) is None
    assert client_for(raw).get("/api/v1/patients/").status_code == 200


def test_the_form_shows_errors_and_creates_nothing(client, login, owner_a):
    login(owner_a)
    response = client.post(PAGE, {"name": "", "rate_limit_per_minute": 0})
    html = response.content.decode()
    assert "Choose at least one scope." in html and "This field is required." in html
    assert RAW_KEY.search(html) is None
    with scopes_disabled():
        assert not ApiKey.all_objects.exists()


def test_revoking_from_the_page(client, login, owner_a):
    key, raw = make_key(owner_a, scopes=["practice:read"])
    login(owner_a)
    assert client.get(f"{PAGE}{key.public_id}/revoke/").status_code == 405
    response = client.post(f"{PAGE}{key.public_id}/revoke/")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == owner_a
    assert "Revoked" in client.get(PAGE).content.decode()
    assert client_for(raw).get("/api/v1/me/").status_code == 401


def test_clinicians_cannot_open_the_keys_page(client, login, clinician_a):
    login(clinician_a)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"name": "x", "scopes": ["clinical:read"], "rate_limit_per_minute": 5}).status_code == 403


def test_the_page_lists_only_this_practices_keys(client, login, owner_a, make_member, practice_b):
    theirs, _raw = make_key(make_member(practice_b, Role.OWNER))
    mine, _raw = make_key(owner_a)
    login(owner_a)
    html = client.get(PAGE).content.decode()
    assert mine.key_prefix in html and theirs.key_prefix not in html


def test_the_demo_key_has_a_known_prefix_and_no_known_value(owner_a, practice_a):
    from integrations.demo_keys import DEMO_KEY_NAME, seed_api_keys

    key = seed_api_keys(practice_a, owner_a)
    assert key.name == DEMO_KEY_NAME and key.key_prefix.startswith(api_keys.KEY_PREFIX)
    assert key.scopes == [s for s in SCOPES if s.endswith(":read")]
    assert seed_api_keys(practice_a, owner_a) == key  # re-running the seed adds nothing
