"""Remittance pages: upload and post, detail, unmatched queue with match and dismiss; permissions
and bounded queries."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.models import Claim, Remittance, RemittanceClaim
from billing.services_remittance import remittance_import
from billing.tests.era_files import DATA, clp, era
from billing.tests.factories import claim_with_lines
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


def url(name, **kwargs):
    return reverse(name, kwargs={"practice_slug": "riverside", **kwargs})


@pytest.fixture
def biller(make_member, practice_a):
    return make_member(practice_a, Role.BILLER)


def _upload(text, name="era.835"):
    return SimpleUploadedFile(name, text.encode(), content_type="application/edi-x12")


def test_biller_uploads_an_835_and_sees_the_detail(client, login, biller, practice_a):
    with practice_scope(practice_a):
        for cn in ("PCN2025000101", "PCN2025000103", "PCN2025000102", "PCN2024120901"):
            claim_with_lines(practice_a, control_number=cn, status=Claim.Status.SUBMITTED)
    login(biller)
    response = client.post(
        url("remittance_upload"), {"file": _upload((DATA / "synthetic_bh_835.txt").read_text())}, follow=True
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Posted $376.25" in body and "EFT0000501" in body
    assert "CO-197" in body and "M62" in body and "L6" in body and "Denied CO-197" in body
    body = client.get(url("remittance_list")).content.decode()
    assert "EFT0000501" in body and "Posted" in body


def test_rejected_upload_says_why_and_posts_nothing(client, login, biller, practice_a):
    login(biller)
    bad = era([clp("X1", "1", 150, 150, lines=[])], "10")
    body = client.post(url("remittance_upload"), {"file": _upload(bad)}, follow=True).content.decode()
    assert "rejected; nothing was posted" in body and "(BPR)" in body
    queue = client.get(url("unmatched_remittances")).content.decode()
    assert "Rejected 835 files" in queue and "BPR02 is 10.00" in queue
    with practice_scope(practice_a):
        assert Remittance.objects.get().status == "rejected"
        assert not RemittanceClaim.objects.exists()


def test_unmatched_queue_match_and_dismiss(client, login, biller, practice_a):
    with practice_scope(practice_a):
        claim = claim_with_lines(practice_a, control_number="REAL9", status=Claim.Status.SUBMITTED)
        text = era(
            [clp("TYPO9", "1", 150, 150, patient=("ROE", "TAYLOR"), lines=[]), clp("GONE9", "1", 10, 10, lines=[])],
            "160",
        )
        remittance_import(practice=practice_a, content=text)
        typo = RemittanceClaim.objects.get(claim_control_number="TYPO9")
        gone = RemittanceClaim.objects.get(claim_control_number="GONE9")
    login(biller)
    body = client.get(url("unmatched_remittances")).content.decode()
    assert "TYPO9" in body and "ROE, TAYLOR" in body and "GONE9" in body
    body = client.post(
        url("remittance_claim_match", remittance_claim_id=typo.public_id), {"control_number": "NOPE"}, follow=True
    ).content.decode()
    assert "No claim has that control number" in body
    client.post(url("remittance_claim_match", remittance_claim_id=typo.public_id), {"control_number": "REAL9"})
    client.post(url("remittance_claim_dismiss", remittance_claim_id=gone.public_id))
    with practice_scope(practice_a):
        typo.refresh_from_db()
        gone.refresh_from_db()
        assert typo.claim_id == claim.pk and typo.is_matched
        assert gone.resolved_at is not None
        claim.refresh_from_db()
        assert claim.status == Claim.Status.PAID
    assert "Nothing to match" in client.get(url("unmatched_remittances")).content.decode()


def test_front_desk_cannot_upload_or_match(client, login, make_member, practice_a):
    front = make_member(practice_a, Role.FRONT_DESK)
    login(front)
    response = client.post(url("remittance_upload"), {"file": _upload("ISA")})
    assert response.status_code in (403, 404)


@pytest.mark.parametrize("size", [1, 6])
def test_pages_are_bounded_in_queries(client, login, biller, practice_a, django_assert_max_num_queries, size):
    with practice_scope(practice_a):
        blocks = [clp(f"U{size}X{i}", "1", 100, 100, lines=[]) for i in range(size)]
        result = remittance_import(practice=practice_a, content=era(blocks, str(100 * size), trace=f"T{size}"))
        remittance = result.remittance
    login(biller)
    for name, kwargs in (
        ("remittance_list", {}),
        ("unmatched_remittances", {}),
        ("remittance_detail", {"remittance_id": remittance.public_id}),
    ):
        with django_assert_max_num_queries(25):
            assert client.get(url(name, **kwargs)).status_code == 200
