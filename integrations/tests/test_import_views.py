"""Settings → Import data pages: upload, mapping with field errors, dry-run report, progress poll,
import, templates; and who may use them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from clinical.models import Patient
from integrations.models import ImportJob
from practice.models import AccessEvent
from practice.permissions import Role

pytestmark = pytest.mark.django_db

CSV = (
    "Client ID,First,Last,DOB,Provider\n"
    "C1,Ana,Lopez,1990-01-02,therapist@riverside.test\n"
    "C2,Ben,Ode,31/02/1980,therapist@riverside.test\n"
)


@pytest.fixture
def admin_a(make_member, practice_a):
    make_member(practice_a, Role.CLINICIAN, email="therapist@riverside.test")
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test")


def _upload(client, text=CSV, kind="patients"):
    return client.post(
        "/p/riverside/integrations/import/",
        {"kind": kind, "file": SimpleUploadedFile("old.csv", text.encode(), content_type="text/csv")},
    )


def _job():
    with scopes_disabled():
        return ImportJob.objects.latest("created_at")


def test_upload_suggests_a_mapping_and_the_dry_run_lists_row_errors(
    admin_a, client, login, django_capture_on_commit_callbacks
):
    login(admin_a)
    response = _upload(client)
    job = _job()
    assert response.status_code == 302 and response["Location"].endswith(f"/import/{job.public_id}/")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b'<option value="Client ID" selected>' in page.content
    fields = {f"map_{k}": v for k, v in job.mapping.items()}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(response["Location"], fields).status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "data-import-errors" in page
    assert "31/02/1980 is not a date" in page and "<code>DOB</code>" in page
    assert "data-import-run" not in page  # errors: nothing to import
    with scopes_disabled():
        assert not Patient.objects.exists()
        assert AccessEvent.all_objects.filter(object_id=str(job.public_id), action="view").exists()


def test_mapping_without_a_required_field_shows_the_field_error(admin_a, client, login):
    login(admin_a)
    _upload(client, "Client ID,First,Last\nC1,Ana,Lopez\n")
    job = _job()
    response = client.post(
        f"/p/riverside/integrations/import/{job.public_id}/",
        {"map_external_id": "Client ID", "map_first_name": "First", "map_last_name": "Last"},
    )
    assert response.status_code == 400
    assert "Date of birth is required: choose the column that holds it." in response.content.decode()
    assert _job().status == ImportJob.Status.UPLOADED


def test_a_clean_file_is_checked_then_imported(admin_a, client, login, django_capture_on_commit_callbacks):
    login(admin_a)
    _upload(client, CSV.replace("31/02/1980", "1980-02-03"))
    job = _job()
    url = f"/p/riverside/integrations/import/{job.public_id}/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {f"map_{k}": v for k, v in job.mapping.items()})
    page = client.get(url).content.decode()
    assert "data-import-run" in page and "data-count-new>2<" in page
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url + "run/").status_code == 302
    page = client.get(url).content.decode()
    assert "data-import-done" in page
    with scopes_disabled():
        assert Patient.objects.filter(practice=admin_a.practice).count() == 2
    # finished: the poll tells htmx to reload the page
    poll = client.get(url + "progress/")
    assert poll.status_code == 204 and poll["HX-Refresh"] == "true"


def test_progress_poll_shows_rows_processed_while_running(admin_a, client, login):
    login(admin_a)
    _upload(client)
    job = _job()
    with scopes_disabled():
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATING, processed_rows=1)
    poll = client.get(f"/p/riverside/integrations/import/{job.public_id}/progress/")
    assert poll.status_code == 200
    assert b"1 of 2 rows" in poll.content and b'hx-trigger="every 1s"' in poll.content


def test_upload_errors_show_on_the_form(admin_a, client, login):
    login(admin_a)
    response = client.post(
        "/p/riverside/integrations/import/",
        {"kind": "patients", "file": SimpleUploadedFile("x.csv", "naïve".encode("latin-1"))},
    )
    assert response.status_code == 400
    assert "not UTF-8" in response.content.decode()


def test_templates_and_samples_download(admin_a, client, login):
    login(admin_a)
    template = client.get("/p/riverside/integrations/import/template/?kind=balances")
    assert template.status_code == 200
    assert template.content.decode() == "patient_external_id,amount,as_of,responsibility,memo\n"
    sample = client.get("/p/riverside/integrations/import/template/?kind=appointments&sample=1")
    assert b"APT-9001" in sample.content
    assert client.get("/p/riverside/integrations/import/template/?kind=nope").status_code == 404


def test_clinicians_cannot_import(make_member, practice_a, client, login):
    login(make_member(practice_a, Role.CLINICIAN))
    assert client.get("/p/riverside/integrations/import/").status_code == 403
    assert _upload(client).status_code == 403
