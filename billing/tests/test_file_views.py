"""EDI files pages: list, export button, download (audited), inbound upload and detail;
permissions and bounded queries."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing import models as m
from billing.services_export import claims_export
from billing.tests import x12_shapes
from billing.tests.factories import ClaimFileFactory, ClearinghouseConnectionFactory, InboundFileFactory
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope

DATA = Path(__file__).parent / "data"


def url(name, **kwargs):
    return reverse(name, kwargs={"practice_slug": "riverside", **kwargs})


@pytest.fixture
def biller(make_member, practice_a):
    return make_member(practice_a, Role.BILLER)


def ready(practice, count=2, **fields):
    x12_shapes.profile(practice)
    return [x12_shapes.make_claim(practice, **fields) for _ in range(count)]


def export(client, capture) -> str:
    """Click Export; the worker's task (eager in tests) runs when the request's transaction commits."""
    with capture(execute=True) as callbacks:
        response = client.post(url("x12_files_export"))
    assert response.status_code == 302 and len(callbacks) == 1
    return client.get(response["Location"]).content.decode()


def test_export_button_releases_files_and_lists_them(
    client, login, biller, practice_a, django_capture_on_commit_callbacks
):
    with practice_scope(practice_a):
        ClearinghouseConnectionFactory(practice=practice_a)
        claims = ready(practice_a)
    login(biller)
    body = export(client, django_capture_on_commit_callbacks)
    assert "837 export started" in body
    assert "1 837 file released with 2 claims" in body
    assert "837P-000000001.x12" in body and "Released" in body and "ISA13 000000001" in body
    with practice_scope(practice_a):
        assert all(m.Claim.objects.get(pk=c.pk).status == m.Claim.Status.SUBMITTED for c in claims)
        request = m.ClaimExportRequest.objects.get()
        assert request.status == "done" and request.requested_by == biller and request.claim_ids is None
        assert [f.filename for f in request.files.all()] == ["837P-000000001.x12"]
    response = client.post(url("x12_files_export"), follow=True)
    assert "No ready claims to export." in response.content.decode()


def test_export_of_an_invalid_file_says_it_was_not_released(
    client, login, biller, practice_a, django_capture_on_commit_callbacks
):
    with practice_scope(practice_a):
        claim = ready(practice_a, count=1, place_of_service="00")[0]
    login(biller)
    body = export(client, django_capture_on_commit_callbacks)
    assert "failed validation and was NOT released" in body
    assert "Failed validation · not released" in body
    with practice_scope(practice_a):
        claim.refresh_from_db()
        assert claim.status == m.Claim.Status.READY


def test_download_is_audited_and_returns_the_file(client, login, biller, practice_a):
    with practice_scope(practice_a):
        ready(practice_a, count=1)
        claim_file = claims_export(practice=practice_a, by=None)[0]
    login(biller)
    response = client.get(url("x12_file_download", file_id=claim_file.public_id))
    assert response.status_code == 200
    assert response.content.decode() == claim_file.content
    assert response["Content-Disposition"] == f'attachment; filename="{claim_file.filename}"'
    with practice_scope(practice_a):
        event = AccessEvent.objects.filter(action="export").latest("id")
        assert event.object_id == str(claim_file.public_id)


def test_upload_999_then_detail_shows_results(client, login, biller, practice_a):
    with practice_scope(practice_a):
        ClearinghouseConnectionFactory(practice=practice_a)
        ready(practice_a)
        claim_file = claims_export(practice=practice_a, by=None)[0]
    text = (DATA / "ack_999_rejected.txt").read_text()
    text = text.replace("{GS06}", claim_file.group_control_number).replace(
        "{ST02}", claim_file.transaction_control_number
    )
    login(biller)
    response = client.post(
        url("inbound_file_upload"), {"file": SimpleUploadedFile("r.999", text.encode())}, follow=True
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "r.999 imported" in body
    assert "Rejected (R)" in body and "required data element missing" in body
    with practice_scope(practice_a):
        claim_file.refresh_from_db()
        assert claim_file.status == m.ClaimFile.Status.REJECTED


def test_upload_277ca_detail_links_claims(client, login, biller, practice_a):
    with practice_scope(practice_a):
        ClearinghouseConnectionFactory(practice=practice_a)
        good, bad = ready(practice_a)
        claims_export(practice=practice_a, by=None)
    text = (DATA / "ack_277ca.txt").read_text()
    text = text.replace("{CLAIM_ACCEPTED}", good.control_number).replace("{CLAIM_REJECTED}", bad.control_number)
    login(biller)
    body = client.post(
        url("inbound_file_upload"), {"file": SimpleUploadedFile("c.277", text.encode())}, follow=True
    ).content.decode()
    assert "1 claim accepted, 1 rejected" in body
    assert url("claim_detail", claim_id=good.public_id) in body
    assert "ICN2026011700001" in body and "A7:164" in body


def test_upload_refuses_non_x12(client, login, biller, practice_a):
    login(biller)
    response = client.post(url("inbound_file_upload"), {"file": SimpleUploadedFile("x.txt", b"hello")})
    assert response.status_code == 400
    assert "not an X12 file" in response.content.decode()


def test_unreadable_upload_shows_the_error(client, login, biller, practice_a):
    login(biller)
    text = (DATA / "ack_999_rejected.txt").read_text().replace("IK5*R*5~", "").replace("{GS06}", "5")
    body = client.post(
        url("inbound_file_upload"), {"file": SimpleUploadedFile("bad.999", text.encode())}, follow=True
    ).content.decode()
    assert "could not be read" in body and "IK5" in body


@pytest.mark.parametrize(
    ("role", "view_status", "post_status"),
    [(Role.CLINICIAN, 403, 403), (Role.FRONT_DESK, 403, 403), (Role.BILLER, 200, 302), (Role.OWNER, 200, 302)],
)
def test_permissions(client, login, make_member, practice_a, role, view_status, post_status):
    with practice_scope(practice_a):
        x12_shapes.profile(practice_a)
    login(make_member(practice_a, role))
    assert client.get(url("x12_files")).status_code == view_status
    assert client.post(url("x12_files_export")).status_code == post_status


def test_other_practice_files_are_404(client, login, biller, practice_a, practice_b):
    with practice_scope(practice_b):
        other_file = ClaimFileFactory(practice=practice_b)
        other_inbound = InboundFileFactory(practice=practice_b)
    login(biller)
    assert client.get(url("x12_file_download", file_id=other_file.public_id)).status_code == 404
    assert client.get(url("inbound_file_detail", inbound_id=other_inbound.public_id)).status_code == 404
    assert "837P-" not in client.get(url("x12_files")).content.decode()


def test_files_page_queries_are_bounded(client, login, biller, practice_a, django_assert_max_num_queries):
    login(biller)

    def make(n):
        with practice_scope(practice_a):
            payer = x12_shapes.PayerFactory(practice=practice_a)
            for _ in range(n):
                ClaimFileFactory(practice=practice_a, payer=payer, validation_errors=[{"line": 1, "message": "x"}])
                InboundFileFactory(practice=practice_a)

    make(2)
    with django_assert_max_num_queries(25) as small:
        assert client.get(url("x12_files")).status_code == 200
    make(20)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url("x12_files")).status_code == 200
