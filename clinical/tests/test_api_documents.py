"""Chart documents through the REST API: metadata and the file, with the chart's permission,
caseload and access log (the same as the chart's download page)."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from clinical.tests import factories as cf
from practice import services
from practice.models import AccessEvent
from practice.permissions import Role

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n%test\n"


def api_as(membership) -> APIClient:
    _token, raw = services.api_token_issue(membership=membership)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def world(practice_a, practice_b, make_member):
    clinician = make_member(practice_a, Role.CLINICIAN, email="lee@riverside.test")
    colleague = make_member(practice_a, Role.CLINICIAN, email="kim@riverside.test")
    with scopes_disabled():
        mine = cf.PatientFactory(practice=practice_a, primary_clinician=clinician)
        theirs = cf.PatientFactory(practice=practice_a, primary_clinician=colleague)
        doc = cf.DocumentFactory(patient=mine, title="Signed consent")
        their_doc = cf.DocumentFactory(patient=theirs, title="Their ROI")
        other_practice_doc = cf.DocumentFactory(patient=cf.PatientFactory(practice=practice_b))
    return {
        "clinician": clinician,
        "mine": mine,
        "doc": doc,
        "their_doc": their_doc,
        "other_practice_doc": other_practice_doc,
    }


def _events(**filters):
    with scopes_disabled():
        return list(AccessEvent.objects.filter(**filters))


def test_a_clinician_lists_and_reads_their_caseloads_documents_with_access_events(world):
    api = api_as(world["clinician"])
    listing = api.get(f"/api/v1/documents/?patient={world['mine'].public_id}")
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert [r["id"] for r in rows] == [str(world["doc"].public_id)]
    assert rows[0]["title"] == "Signed consent" and rows[0]["content_type"] == "application/pdf"
    assert rows[0]["size_bytes"] == 15 and rows[0]["uploaded_by"] == str(world["clinician"].public_id)
    assert _events(action="list", object_type="clinical.document")

    everything = api.get("/api/v1/documents/").json()["results"]
    assert {r["id"] for r in everything} == {str(world["doc"].public_id)}  # not the colleague's patient

    detail = api.get(f"/api/v1/documents/{world['doc'].public_id}/")
    assert detail.status_code == 200 and detail.json()["patient"] == str(world["mine"].public_id)
    assert len(_events(action="view", object_type="clinical.document")) == 1


def test_download_serves_the_file_with_the_pages_headers_and_logs_it(world):
    answer = api_as(world["clinician"]).get(
        f"/api/v1/documents/{world['doc'].public_id}/download/", HTTP_ACCEPT="application/pdf"
    )
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == PDF
    assert answer["Content-Type"] == "application/pdf"
    assert f"document-{world['doc'].public_id}.pdf" in answer["Content-Disposition"]
    assert answer["X-Content-Type-Options"] == "nosniff" and "sandbox" in answer["Content-Security-Policy"]
    (event,) = _events(action="view", object_type="clinical.document")
    assert event.object_id == str(world["doc"].public_id) and event.patient_id == world["mine"].public_id


def test_outside_the_caseload_and_another_practice_are_404(world):
    api = api_as(world["clinician"])
    for doc in (world["their_doc"], world["other_practice_doc"]):
        assert api.get(f"/api/v1/documents/{doc.public_id}/").status_code == 404
        assert api.get(f"/api/v1/documents/{doc.public_id}/download/").status_code == 404
    assert api.get(f"/api/v1/documents/?patient={world['other_practice_doc'].patient.public_id}").status_code == 404
    assert not _events(action="view", object_type="clinical.document")


def test_roles_without_clinical_access_are_refused(world, make_member, practice_a):
    for role in (Role.FRONT_DESK, Role.BILLER):
        api = api_as(make_member(practice_a, role))
        assert api.get("/api/v1/documents/").status_code == 403
        assert api.get(f"/api/v1/documents/{world['doc'].public_id}/download/").status_code == 403
