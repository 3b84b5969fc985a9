"""REST API base: token issue, /me/, tokens, locations and members, errors and isolation."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from django_scopes import scopes_disabled
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from practice import api_urls, services
from practice.api_auth import PracticeScopedAPIMixin
from practice.models import AccessEvent, ApiToken, AuditLogEntry, Location, Membership
from practice.permissions import ROLE_PERMISSIONS, Role
from practice.tests.factories import DEFAULT_PASSWORD, LocationFactory, sign_in, totp_device_for, totp_now

TOKEN_URL = "/api/v1/auth/token/"
GENERIC_CREDENTIALS_ERROR = {
    "non_field_errors": ["That email, password and practice do not match an active membership."]
}


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    """The "auth" throttle counts in the cache, which outlives each test's database rollback."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_auditlog_actor_leak():
    """django-auditlog 3.4's middleware sets a context variable it never resets and keys its
    pre_save receiver by time.time(); clear both so no request's actor reaches a later test."""
    yield
    from auditlog.context import auditlog_value
    from django.db.models.signals import pre_save

    for key, *_ in list(pre_save.receivers):
        uid = key[0]
        if isinstance(uid, tuple) and uid and uid[0] == "set_actor":
            pre_save.disconnect(sender=AuditLogEntry, dispatch_uid=uid)
    auditlog_value.set({"signal_duid": None})


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def owner_a(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="owner@riverside.test")


def obtain(client: APIClient, email: str, *, password: str = DEFAULT_PASSWORD, practice: str = "riverside", **extra):
    return client.post(TOKEN_URL, {"email": email, "password": password, "practice": practice, **extra}, format="json")


def token_client(membership: Membership, name: str = "test") -> tuple[APIClient, ApiToken]:
    token, raw = services.api_token_issue(membership=membership, name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, token


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert error["status"] == status
    if code:
        assert error["code"] == code
    return error


def locations_of(practice, n: int) -> list[Location]:
    return [LocationFactory(practice=practice) for _ in range(n)]


# --- Token issue -----------------------------------------------------------------------------


def test_token_issue_returns_the_raw_token_once_and_stores_only_its_hash(api_client, clinician_a):
    r = obtain(api_client, "clinician@riverside.test", name="laptop")

    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) == {"token", "token_id", "practice", "role", "expires_at"}
    assert body["token"].startswith("tend_")
    assert (body["practice"], body["role"]) == ("riverside", "clinician")
    token = ApiToken.all_objects.get(public_id=body["token_id"])
    assert token.membership == clinician_a
    assert token.name == "laptop"
    assert body["token"] not in (token.key_hash, token.key_prefix)


def test_token_issue_email_is_case_insensitive(api_client, clinician_a):
    assert obtain(api_client, "Clinician@Riverside.TEST").status_code == 201


def test_token_issue_with_wrong_password_is_400(api_client, clinician_a):
    r = obtain(api_client, "clinician@riverside.test", password="not the password")

    error = assert_error(r, 400, "invalid")
    assert error["fields"] == GENERIC_CREDENTIALS_ERROR
    assert not ApiToken.all_objects.exists()


def test_token_issue_missing_fields_are_field_errors(api_client, db):
    r = api_client.post(TOKEN_URL, {"email": "not-an-email"}, format="json")

    error = assert_error(r, 400, "invalid")
    assert set(error["fields"]) == {"email", "password", "practice"}


def test_unknown_practice_and_practice_without_membership_give_the_same_400(
    api_client, clinician_a, practice_b, clinician_b
):
    unknown = obtain(api_client, "clinician@riverside.test", practice="no-such-practice")
    not_member = obtain(api_client, "clinician@riverside.test", practice="harbor")
    wrong_password = obtain(api_client, "clinician@riverside.test", password="nope nope nope")

    assert unknown.status_code == not_member.status_code == wrong_password.status_code == 400
    assert unknown.json() == not_member.json() == wrong_password.json()
    assert unknown.json()["error"]["fields"] == GENERIC_CREDENTIALS_ERROR


def test_deactivated_membership_cannot_obtain_a_token(api_client, clinician_a):
    Membership.all_objects.filter(pk=clinician_a.pk).update(is_active=False)

    r = obtain(api_client, "clinician@riverside.test")

    assert assert_error(r, 400)["fields"] == GENERIC_CREDENTIALS_ERROR


def test_mfa_role_without_enrolment_is_told_to_enrol_in_the_web_app(api_client, owner_a):
    r = obtain(api_client, "owner@riverside.test")

    error = assert_error(r, 400)
    assert "web app" in error["fields"]["non_field_errors"][0]
    assert not ApiToken.all_objects.exists()


def test_mfa_role_needs_a_valid_unused_code(api_client, owner_a):
    device = totp_device_for(owner_a.user)

    missing = obtain(api_client, "owner@riverside.test")
    assert assert_error(missing, 400)["fields"] == {"otp": ["A code from your authenticator app is required."]}

    wrong = obtain(api_client, "owner@riverside.test", otp="000000" if totp_now(device) != "000000" else "111111")
    assert set(assert_error(wrong, 400)["fields"]) == {"otp"}

    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows down guessing after a wrong code
    code = totp_now(device)
    ok = obtain(api_client, "owner@riverside.test", otp=code)
    assert ok.status_code == 201, ok.content
    assert ok.json()["role"] == "owner"

    replayed = obtain(api_client, "owner@riverside.test", otp=code)
    assert set(assert_error(replayed, 400)["fields"]) == {"otp"}
    assert ApiToken.all_objects.count() == 1


def test_user_who_enrolled_mfa_voluntarily_needs_a_code_too(api_client, clinician_a):
    device = totp_device_for(clinician_a.user)

    assert set(assert_error(obtain(api_client, "clinician@riverside.test"), 400)["fields"]) == {"otp"}
    assert obtain(api_client, "clinician@riverside.test", otp=totp_now(device)).status_code == 201


def test_five_failures_lock_out_even_the_right_password(api_client, clinician_a):
    statuses = [obtain(api_client, "clinician@riverside.test", password=f"wrong {i}").status_code for i in range(5)]

    # The fifth failure reaches the limit, so it already answers with the lockout.
    assert statuses == [400, 400, 400, 400, 429]
    locked = obtain(api_client, "clinician@riverside.test")
    error = assert_error(locked, 429, "locked_out")
    assert "attempts" in error["message"]
    assert int(locked["Retry-After"]) > 0
    assert not ApiToken.all_objects.exists()


def test_lockout_is_per_email_not_per_ip(api_client, clinician_a, make_member, practice_a):
    make_member(practice_a, Role.CLINICIAN, email="other@riverside.test")
    for i in range(5):
        obtain(api_client, "clinician@riverside.test", password=f"wrong {i}")

    assert obtain(api_client, "other@riverside.test").status_code == 201


def test_success_resets_the_failure_count(api_client, clinician_a):
    for i in range(4):
        obtain(api_client, "clinician@riverside.test", password=f"wrong {i}")
    assert obtain(api_client, "clinician@riverside.test").status_code == 201

    for i in range(4):
        assert obtain(api_client, "clinician@riverside.test", password=f"again {i}").status_code == 400
    assert obtain(api_client, "clinician@riverside.test").status_code == 201


def test_token_endpoint_is_rate_limited(api_client, clinician_a, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "2/min"})  # read at import

    statuses = [obtain(api_client, "clinician@riverside.test").status_code for _ in range(3)]

    assert statuses == [201, 201, 429]


# --- /me/ and authentication -----------------------------------------------------------------


def test_token_authenticates_me(api_client, clinician_a):
    raw = obtain(api_client, "clinician@riverside.test").json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    r = api_client.get("/api/v1/me/")

    assert r.status_code == 200, r.content
    body = r.json()
    assert body["auth"] == "token"
    assert body["user"] == {
        "id": str(clinician_a.user.public_id),
        "email": "clinician@riverside.test",
        "full_name": clinician_a.user.full_name,
    }
    assert body["practice"] == {
        "id": str(clinician_a.practice.public_id),
        "slug": "riverside",
        "name": "Riverside Counseling",
        "timezone": "America/New_York",
    }
    assert body["membership"]["id"] == str(clinician_a.public_id)
    assert body["membership"]["role"] == "clinician"
    assert body["membership"]["permissions"] == sorted(p.value for p in ROLE_PERMISSIONS[Role.CLINICIAN])


def test_unauthenticated_request_is_401_with_error_body_and_bearer_challenge(api_client, db):
    r = api_client.get("/api/v1/me/")

    assert_error(r, 401, "not_authenticated")
    assert r["WWW-Authenticate"] == 'Bearer realm="api"'


def test_unknown_token_is_401(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer tend_not-a-real-token")

    assert_error(api_client.get("/api/v1/me/"), 401, "authentication_failed")


def test_revoked_token_is_401(clinician_a):
    client, token = token_client(clinician_a)
    assert client.delete(f"/api/v1/auth/tokens/{token.public_id}/").status_code == 204

    assert_error(client.get("/api/v1/me/"), 401)


def test_expired_token_is_401(clinician_a):
    client, _ = token_client(clinician_a)
    assert client.get("/api/v1/me/").status_code == 200

    with time_machine.travel(timezone.now() + services.API_TOKEN_VALID_FOR + timedelta(minutes=1)):
        assert_error(client.get("/api/v1/me/"), 401)


def test_deactivated_membership_token_is_401(clinician_a):
    client, _ = token_client(clinician_a)
    Membership.all_objects.filter(pk=clinician_a.pk).update(is_active=False)  # even if not revoked

    assert_error(client.get("/api/v1/me/"), 401)


def test_token_of_another_practice_membership_reads_that_practice_only(clinician_a, make_member, practice_b):
    also_b = make_member(practice_b, Role.FRONT_DESK, user=clinician_a.user)
    client, _ = token_client(also_b)

    body = client.get("/api/v1/me/").json()

    assert (body["practice"]["slug"], body["membership"]["role"]) == ("harbor", "front_desk")


def test_me_works_with_a_session_login(client, clinician_a):
    sign_in(client, clinician_a)
    session = client.session
    session["tend_active_practice"] = "riverside"
    session.save()

    r = client.get("/api/v1/me/")

    assert r.status_code == 200, r.content
    assert r.json()["auth"] == "session"
    assert r.json()["membership"]["id"] == str(clinician_a.public_id)


def test_session_without_an_active_practice_is_403(client, clinician_a):
    sign_in(client, clinician_a)

    assert_error(client.get("/api/v1/me/"), 403)


def test_session_of_mfa_role_without_verified_mfa_is_403(client, owner_a):
    sign_in(client, owner_a, verified=False)
    session = client.session
    session["tend_active_practice"] = "riverside"
    session.save()

    assert_error(client.get("/api/v1/me/"), 403)


def test_unknown_api_path_is_a_json_404(api_client, db):
    assert_error(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


# --- Own tokens ------------------------------------------------------------------------------


def test_token_list_shows_only_own_tokens_of_this_membership(clinician_a, make_member, practice_a, practice_b):
    client, mine = token_client(clinician_a, "mine")
    services.api_token_issue(membership=clinician_a, name="mine too")
    colleague = make_member(practice_a, Role.CLINICIAN)
    services.api_token_issue(membership=colleague, name="colleague")
    elsewhere = make_member(practice_b, Role.CLINICIAN, user=clinician_a.user)
    services.api_token_issue(membership=elsewhere, name="other practice")

    r = client.get("/api/v1/auth/tokens/")

    assert r.status_code == 200, r.content
    results = r.json()["results"]
    assert sorted(t["name"] for t in results) == ["mine", "mine too"]
    assert set(results[0]) == {"id", "name", "key_prefix", "created_at", "last_used_at", "expires_at", "revoked_at"}
    assert str(mine.public_id) in {t["id"] for t in results}


def test_revoking_another_users_token_is_404_and_leaves_it_usable(clinician_a, make_member, practice_a):
    client, _ = token_client(clinician_a)
    colleague_client, colleague_token = token_client(make_member(practice_a, Role.CLINICIAN))

    r = client.delete(f"/api/v1/auth/tokens/{colleague_token.public_id}/")

    assert_error(r, 404, "not_found")
    colleague_token.refresh_from_db()
    assert colleague_token.revoked_at is None
    assert colleague_client.get("/api/v1/me/").status_code == 200


def test_revoking_own_token_of_another_practice_is_404(clinician_a, make_member, practice_b):
    client, _ = token_client(clinician_a)
    _, other_practice_token = token_client(make_member(practice_b, Role.CLINICIAN, user=clinician_a.user))

    assert_error(client.delete(f"/api/v1/auth/tokens/{other_practice_token.public_id}/"), 404)
    other_practice_token.refresh_from_db()
    assert other_practice_token.revoked_at is None


def test_revoking_a_token_keeps_the_others(clinician_a):
    client, _ = token_client(clinician_a)
    _, spare = token_client(clinician_a)

    assert client.delete(f"/api/v1/auth/tokens/{spare.public_id}/").status_code == 204

    spare.refresh_from_db()
    assert spare.revoked_at is not None
    assert client.get("/api/v1/me/").status_code == 200


def test_session_delete_needs_csrf(clinician_a):
    _, token = token_client(clinician_a)
    client = APIClient(enforce_csrf_checks=True)
    sign_in(client, clinician_a)
    session = client.session
    session["tend_active_practice"] = "riverside"
    session.save()

    assert_error(client.delete(f"/api/v1/auth/tokens/{token.public_id}/"), 403)
    token.refresh_from_db()
    assert token.revoked_at is None


# --- Locations -------------------------------------------------------------------------------


def test_location_list_and_detail(clinician_a, practice_a):
    main, annex = LocationFactory(practice=practice_a, name="Main"), LocationFactory(practice=practice_a, name="Annex")
    client, token = token_client(clinician_a)

    listing = client.get("/api/v1/locations/")
    assert listing.status_code == 200, listing.content
    assert listing.json()["count"] == 2
    assert [loc["name"] for loc in listing.json()["results"]] == ["Annex", "Main"]

    detail = client.get(f"/api/v1/locations/{main.public_id}/")
    assert detail.status_code == 200
    assert detail.json()["id"] == str(main.public_id)
    assert detail.json()["place_of_service"] == "11"
    with scopes_disabled():
        event = AccessEvent.all_objects.get()
    assert (event.practice_id, event.user_id, event.api_token_id) == (practice_a.pk, clinician_a.user_id, token.pk)
    assert (event.action, event.object_type, event.object_id) == ("view", "practice.location", str(main.public_id))
    assert annex  # listed above


def test_location_list_filters_by_is_active(clinician_a, practice_a):
    LocationFactory(practice=practice_a, name="Open")
    LocationFactory(practice=practice_a, name="Closed", is_active=False)
    client, _ = token_client(clinician_a)

    names = lambda q: [loc["name"] for loc in client.get(f"/api/v1/locations/{q}").json()["results"]]  # noqa: E731
    assert names("?is_active=true") == ["Open"]
    assert names("?is_active=false") == ["Closed"]
    assert names("") == ["Open", "Closed"]
    error = assert_error(client.get("/api/v1/locations/?is_active=maybe"), 400, "invalid")
    assert set(error["fields"]) == {"is_active"}


def test_another_practices_location_is_404_and_not_recorded(clinician_a, practice_b):
    (theirs,) = locations_of(practice_b, 1)
    client, _ = token_client(clinician_a)

    r = client.get(f"/api/v1/locations/{theirs.public_id}/")

    assert_error(r, 404, "not_found")
    assert client.get("/api/v1/locations/").json()["count"] == 0
    with scopes_disabled():
        theirs_now = Location.all_objects.get(pk=theirs.pk)
        assert not AccessEvent.all_objects.exists()
    assert (theirs_now.name, theirs_now.is_active, theirs_now.updated_at) == (
        theirs.name,
        theirs.is_active,
        theirs.updated_at,
    )


def test_front_desk_can_list_locations(make_member, practice_a):
    locations_of(practice_a, 2)
    client, _ = token_client(make_member(practice_a, Role.FRONT_DESK))

    assert client.get("/api/v1/locations/").json()["count"] == 2


def test_malformed_public_id_is_404(clinician_a):
    client, _ = token_client(clinician_a)

    assert_error(client.get("/api/v1/locations/not-a-uuid/"), 404)


@pytest.mark.parametrize("rows", [3, 30])
def test_location_list_query_count_does_not_grow_with_rows(
    rows, clinician_a, practice_a, django_assert_max_num_queries
):
    locations_of(practice_a, rows)
    client, _ = token_client(clinician_a)
    client.get("/api/v1/me/")  # last_used_at is written at most once a minute; keep it out of the count

    with django_assert_max_num_queries(4):
        r = client.get("/api/v1/locations/")
    assert r.json()["count"] == rows


# --- Members ---------------------------------------------------------------------------------


def test_member_list_and_detail(clinician_a, make_member, practice_a, practice_b, clinician_b):
    supervisor = make_member(practice_a, Role.SUPERVISOR, email="sup@riverside.test", full_name="Sam Super")
    trainee = make_member(
        practice_a, Role.CLINICIAN, email="new@riverside.test", is_licensed=False, supervisor=supervisor, title="MSW"
    )
    client, _ = token_client(clinician_a)

    listing = client.get("/api/v1/members/")
    assert listing.status_code == 200, listing.content
    assert {m["user"]["email"] for m in listing.json()["results"]} == {
        "clinician@riverside.test",
        "sup@riverside.test",
        "new@riverside.test",
    }

    detail = client.get(f"/api/v1/members/{trainee.public_id}/")
    assert detail.json() == {
        "id": str(trainee.public_id),
        "user": {"email": "new@riverside.test", "full_name": trainee.user.full_name},
        "role": "clinician",
        "is_active": True,
        "is_licensed": False,
        "supervisor": str(supervisor.public_id),
        "title": "MSW",
    }
    with scopes_disabled():
        assert AccessEvent.all_objects.get().object_id == str(trainee.public_id)


def test_member_list_filters_by_role_and_is_active(clinician_a, make_member, practice_a):
    make_member(practice_a, Role.BILLER, email="biller@riverside.test")
    make_member(practice_a, Role.BILLER, email="gone@riverside.test", is_active=False)
    client, _ = token_client(clinician_a)

    emails = lambda q: sorted(m["user"]["email"] for m in client.get(f"/api/v1/members/{q}").json()["results"])  # noqa: E731
    assert emails("?role=biller") == ["biller@riverside.test", "gone@riverside.test"]
    assert emails("?role=biller&is_active=true") == ["biller@riverside.test"]
    assert emails("?is_active=false") == ["gone@riverside.test"]
    assert set(assert_error(client.get("/api/v1/members/?role=wizard"), 400)["fields"]) == {"role"}


def test_another_practices_member_is_404(clinician_a, clinician_b):
    client, _ = token_client(clinician_a)

    assert_error(client.get(f"/api/v1/members/{clinician_b.public_id}/"), 404, "not_found")
    assert clinician_b.public_id not in {m["id"] for m in client.get("/api/v1/members/").json()["results"]}


@pytest.mark.parametrize("rows", [3, 30])
def test_member_list_query_count_does_not_grow_with_rows(
    rows, clinician_a, make_member, practice_a, django_assert_max_num_queries
):
    supervisor = make_member(practice_a, Role.SUPERVISOR)
    for _ in range(rows):
        make_member(practice_a, Role.CLINICIAN, supervisor=supervisor)
    client, _ = token_client(clinician_a)
    client.get("/api/v1/me/")

    with django_assert_max_num_queries(4):
        r = client.get("/api/v1/members/")
    assert r.json()["count"] == rows + 2


@pytest.mark.parametrize("rows", [3, 30])
def test_token_list_query_count_does_not_grow_with_rows(rows, clinician_a, django_assert_max_num_queries):
    client, _ = token_client(clinician_a)
    for _ in range(rows - 1):
        services.api_token_issue(membership=clinician_a)
    client.get("/api/v1/me/")

    with django_assert_max_num_queries(4):
        r = client.get("/api/v1/auth/tokens/")
    assert r.json()["count"] == rows


# --- Wiring ----------------------------------------------------------------------------------


def _api_patterns(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):  # e.g. the clinical app's include()
            yield from _api_patterns(pattern.url_patterns)
        else:
            yield pattern


def test_every_api_view_names_the_model_it_exposes():
    for pattern in _api_patterns(api_urls.urlpatterns):
        assert isinstance(pattern, URLPattern)
        view_class = pattern.callback.cls
        assert hasattr(view_class, "exposes_model"), pattern.pattern
        if view_class.exposes_model is not None:  # practice-scoped: the mixin must come before DRF's view
            mro = view_class.__mro__
            assert PracticeScopedAPIMixin in mro, view_class
            assert mro.index(PracticeScopedAPIMixin) < mro.index(APIView), view_class
