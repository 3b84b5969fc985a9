"""The integrations REST API: webhook endpoints (secret shown once), the delivery log and re-send,
import and export jobs (metadata only); same permissions and tenancy as the Settings pages."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from billing.crypto import decrypt
from integrations.api_keys import api_key_create
from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.tests import factories as itf
from practice import services
from practice.permissions import Role

pytestmark = pytest.mark.django_db
S = WebhookDelivery.Status


def api_as(membership, raw: str | None = None) -> APIClient:
    if raw is None:
        _token, raw = services.api_token_issue(membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def owner(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="owner@riverside.test")


@pytest.fixture
def admin(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test")


def test_an_endpoint_is_created_with_its_secret_once_and_read_without_it(admin):
    api = api_as(admin)
    created = api.post(
        "/api/v1/webhook-endpoints/",
        {"url": "http://127.0.0.1:9/hooks", "description": "Reporting", "events": ["claim.status_changed"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_")
    with scopes_disabled():
        endpoint = WebhookEndpoint.all_objects.get(public_id=body["id"])
    assert decrypt(endpoint.secret_encrypted) == body["secret"]
    assert endpoint.created_by == admin and endpoint.events == ["claim.status_changed"]

    detail = api.get(f"/api/v1/webhook-endpoints/{body['id']}/")
    listing = api.get("/api/v1/webhook-endpoints/")
    for answer in (detail, listing):
        assert answer.status_code == 200
        assert "secret" not in answer.content.decode() and body["secret"] not in answer.content.decode()
    assert [row["id"] for row in listing.json()["results"]] == [body["id"]]


def test_rotating_returns_a_new_secret_once(admin, practice_a):
    with scopes_disabled():
        endpoint = itf.WebhookEndpointFactory(practice=practice_a)
        old = decrypt(endpoint.secret_encrypted)
    answer = api_as(admin).post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret/")
    assert answer.status_code == 200
    new = answer.json()["secret"]
    endpoint.refresh_from_db()
    assert new != old and decrypt(endpoint.secret_encrypted) == new


def test_patch_updates_events_and_switches_off_and_on(admin, practice_a):
    with scopes_disabled():
        endpoint = itf.WebhookEndpointFactory(practice=practice_a, consecutive_failures=3)
    api = api_as(admin)
    url = f"/api/v1/webhook-endpoints/{endpoint.public_id}/"
    answer = api.patch(url, {"events": ["appointment.cancelled"], "is_active": False}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["events"] == ["appointment.cancelled"] and answer.json()["is_active"] is False
    assert answer.json()["url"] == endpoint.url
    answer = api.patch(url, {"is_active": True}, format="json")
    assert answer.json()["is_active"] is True and answer.json()["consecutive_failures"] == 0


def test_bad_url_and_unknown_event_are_field_errors(admin):
    api = api_as(admin)
    answer = api.post("/api/v1/webhook-endpoints/", {"url": "https://x.test/", "events": ["nope"]}, format="json")
    assert answer.status_code == 400 and "events" in answer.json()["error"]["fields"]
    bad_scheme = {"url": "ftp://x.test/", "events": ["claim.status_changed"]}
    answer = api.post("/api/v1/webhook-endpoints/", bad_scheme, format="json")
    assert answer.status_code == 400 and "url" in answer.json()["error"]["fields"]
    answer = api.post(
        "/api/v1/webhook-endpoints/",
        {"url": "http://u:p@127.0.0.1/", "events": ["claim.status_changed"]},
        format="json",
    )
    assert answer.status_code == 400 and "url" in answer.json()["error"]["fields"]


def test_deliveries_filter_by_endpoint_and_a_failed_one_is_resent(admin, practice_a):
    with scopes_disabled():
        endpoint = itf.WebhookEndpointFactory(practice=practice_a)
        failed = itf.WebhookDeliveryFactory(
            practice=practice_a, endpoint=endpoint, status=S.FAILED, response_body="nope", attempts=8
        )
        itf.WebhookDeliveryFactory(practice=practice_a)  # another endpoint's
    api = api_as(admin)
    listing = api.get(f"/api/v1/webhook-deliveries/?endpoint={endpoint.public_id}")
    assert [row["id"] for row in listing.json()["results"]] == [str(failed.public_id)]
    assert "response_body" not in listing.json()["results"][0]
    detail = api.get(f"/api/v1/webhook-deliveries/{failed.public_id}/").json()
    assert detail["response_body"] == "nope" and detail["endpoint"] == str(endpoint.public_id)

    resent = api.post(f"/api/v1/webhook-deliveries/{failed.public_id}/resend/")
    assert resent.status_code == 200 and resent.json()["status"] in (S.PENDING, S.SUCCEEDED, S.RETRYING)
    again = api.post(f"/api/v1/webhook-deliveries/{failed.public_id}/resend/")
    with scopes_disabled():
        failed.refresh_from_db()
    if failed.status != S.FAILED:
        assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"


def test_clinicians_and_front_desk_are_refused(make_member, practice_a):
    for role in (Role.CLINICIAN, Role.FRONT_DESK, Role.BILLER):
        api = api_as(make_member(practice_a, role))
        for url in ("/api/v1/webhook-endpoints/", "/api/v1/webhook-deliveries/", "/api/v1/import-jobs/"):
            assert api.get(url).status_code == 403, (role, url)
        assert api.post("/api/v1/webhook-endpoints/", {}, format="json").status_code == 403


def test_export_jobs_are_for_owners_only(admin, owner, practice_a):
    with scopes_disabled():
        job = itf.ExportJobFactory(practice=practice_a, requested_by=owner, counts={"patients.ndjson": 4})
    assert api_as(admin).get("/api/v1/export-jobs/").status_code == 403
    answer = api_as(owner).get(f"/api/v1/export-jobs/{job.public_id}/")
    assert answer.status_code == 200
    assert answer.json()["counts"] == {"patients.ndjson": 4}
    assert "file" not in answer.json()


def test_import_jobs_show_progress_and_row_errors_not_the_csv(admin, practice_a):
    with scopes_disabled():
        job = itf.ImportJobFactory(
            practice=practice_a,
            total_rows=4,
            processed_rows=2,
            report={
                "errors": [{"row": 3, "field": "dob", "column": "DOB", "reason": "Not a date."}],
                "counts": {"new": 1, "updated": 0, "unchanged": 0},
            },
        )
    answer = api_as(admin).get(f"/api/v1/import-jobs/{job.public_id}/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["progress_percent"] == 50 and body["counts"]["new"] == 1
    assert body["row_errors"] == [{"row": 3, "column": "DOB", "reason": "Not a date."}]
    assert "Lopez" not in answer.content.decode() and "content" not in body


def test_another_practices_rows_are_404(admin, practice_b):
    with scopes_disabled():
        endpoint = itf.WebhookEndpointFactory(practice=practice_b)
        delivery = itf.WebhookDeliveryFactory(practice=practice_b, status=S.FAILED)
        job = itf.ImportJobFactory(practice=practice_b)
    api = api_as(admin)
    assert api.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/").status_code == 404
    assert api.patch(f"/api/v1/webhook-endpoints/{endpoint.public_id}/", {"is_active": False}).status_code == 404
    assert api.post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret/").status_code == 404
    assert api.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/resend/").status_code == 404
    assert api.get(f"/api/v1/webhook-deliveries/?endpoint={endpoint.public_id}").status_code == 404
    assert api.get(f"/api/v1/import-jobs/{job.public_id}/").status_code == 404


def test_an_api_key_needs_the_integrations_scopes(admin, practice_a):
    _key, raw = api_key_create(by=admin, name="Reader", scopes=["integrations:read"])
    api = api_as(admin, raw)
    assert api.get("/api/v1/webhook-endpoints/").status_code == 200
    answer = api.post(
        "/api/v1/webhook-endpoints/", {"url": "http://127.0.0.1:9/", "events": ["claim.status_changed"]}, format="json"
    )
    assert answer.status_code == 403 and "integrations:write" in answer.json()["error"]["message"]
