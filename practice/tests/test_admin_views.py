"""Practice admin pages (settings, locations, staff, invitations, audit log) through the client,
plus a smoke test that renders every sign-in and account template."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from practice.audit import access_record
from practice.models import AccessEvent, Invitation, Location, Membership, Practice
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import InvitationFactory, LocationFactory, UserFactory, sign_in, totp_device_for

pytestmark = pytest.mark.django_db


def url(name: str, practice: Practice, **kwargs) -> str:
    return reverse(name, kwargs={"practice_slug": practice.slug, **kwargs})


def page_text(response) -> str:
    return response.content.decode()


@pytest.fixture
def owner_a(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="owner@riverside.test", full_name="Olive Owner")


@pytest.fixture
def admin_a(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test", full_name="Ada Admin")


@pytest.fixture
def front_desk_a(make_member, practice_a):
    return make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test", full_name="Fran Desk")


@pytest.fixture
def supervisor_a(make_member, practice_a):
    return make_member(practice_a, Role.SUPERVISOR, email="sup@riverside.test", full_name="Sam Supervisor")


def _query_count(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


# --- Settings --------------------------------------------------------------------------------


def test_settings_save_updates_the_practice(login, admin_a, practice_a):
    client = login(admin_a)
    response = client.post(
        url("practice_settings", practice_a),
        {
            "name": "Riverside Therapy",
            "timezone": "America/Chicago",
            "idle_timeout_minutes": 20,
            "phone": "",
            "email": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Practice settings saved." in page_text(response)
    practice_a.refresh_from_db()
    assert (practice_a.name, practice_a.timezone, practice_a.idle_timeout_minutes) == (
        "Riverside Therapy",
        "America/Chicago",
        20,
    )


def test_settings_with_an_out_of_range_timeout_change_nothing(login, admin_a, practice_a):
    client = login(admin_a)
    response = client.post(
        url("practice_settings", practice_a),
        {"name": "Renamed", "timezone": "America/Chicago", "idle_timeout_minutes": 600},
    )
    assert response.status_code == 200
    assert 'aria-invalid="true"' in page_text(response)
    practice_a.refresh_from_db()
    assert practice_a.name == "Riverside Counseling"
    assert practice_a.idle_timeout_minutes == 15
    assert "Riverside Counseling" in page_text(response)  # the page chrome still shows the saved name


def test_settings_are_forbidden_to_front_desk(login, front_desk_a, practice_a):
    client = login(front_desk_a)
    assert client.get(url("practice_settings", practice_a)).status_code == 403
    assert client.post(url("practice_settings", practice_a), {"name": "x"}).status_code == 403
    practice_a.refresh_from_db()
    assert practice_a.name == "Riverside Counseling"


# --- Locations -------------------------------------------------------------------------------

LOCATION_POST = {
    "name": "Downtown",
    "address_line1": "1 Harbor Way",
    "address_line2": "",
    "city": "Boston",
    "state": "MA",
    "postal_code": "02110",
    "phone": "",
    "timezone": "America/New_York",
    "place_of_service": "11",
    "is_active": "on",
}


def test_location_list_shows_this_practices_locations_only(login, front_desk_a, practice_a, practice_b):
    LocationFactory(practice=practice_a, name="Main Office")
    LocationFactory(practice=practice_b, name="Harbor Office")
    response = login(front_desk_a).get(url("location_list", practice_a))
    assert response.status_code == 200
    assert "Main Office" in page_text(response)
    assert "Harbor Office" not in page_text(response)
    assert "New location" not in page_text(response)  # front desk cannot add


def test_location_list_query_count_does_not_grow_with_rows(login, admin_a, practice_a):
    client = login(admin_a)
    for _ in range(3):
        LocationFactory(practice=practice_a)
    bound = _query_count(client, url("location_list", practice_a))
    for _ in range(27):
        LocationFactory(practice=practice_a)
    assert _query_count(client, url("location_list", practice_a)) == bound


def test_location_create_adds_a_location(login, admin_a, practice_a):
    response = login(admin_a).post(url("location_create", practice_a), LOCATION_POST, follow=True)
    assert response.status_code == 200
    assert "Location “Downtown” added." in page_text(response)
    with practice_scope(practice_a):
        location = Location.objects.get(name="Downtown")
    assert (location.city, location.state, location.practice_id) == ("Boston", "MA", practice_a.pk)


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Main Office"), ("state", "Mass"), ("postal_code", "2110")],
)
def test_location_create_with_errors_changes_nothing(login, admin_a, practice_a, field, value):
    LocationFactory(practice=practice_a, name="Main Office")
    response = login(admin_a).post(url("location_create", practice_a), {**LOCATION_POST, field: value})
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in page_text(response)
    with practice_scope(practice_a):
        assert Location.objects.count() == 1


def test_location_create_is_forbidden_to_front_desk(login, front_desk_a, practice_a):
    client = login(front_desk_a)
    assert client.get(url("location_create", practice_a)).status_code == 403
    assert client.post(url("location_create", practice_a), LOCATION_POST).status_code == 403
    with practice_scope(practice_a):
        assert not Location.objects.exists()


def test_location_detail_records_a_view_access_event(login, front_desk_a, practice_a):
    location = LocationFactory(practice=practice_a, name="Main Office")
    response = login(front_desk_a).get(url("location_detail", practice_a, public_id=location.public_id))
    assert response.status_code == 200
    assert "Main Office" in page_text(response)
    assert "Save location" not in page_text(response)  # read-only for front desk
    with practice_scope(practice_a):
        event = AccessEvent.objects.get()
    assert (event.action, event.object_type, event.object_id, event.user_id) == (
        "view",
        "practice.location",
        str(location.public_id),
        front_desk_a.user_id,
    )


def test_location_detail_edit_saves(login, admin_a, practice_a):
    location = LocationFactory(practice=practice_a, name="Main Office")
    response = login(admin_a).post(
        url("location_detail", practice_a, public_id=location.public_id),
        {**LOCATION_POST, "name": "Main Office", "phone": "555-0100", "is_active": ""},
        follow=True,
    )
    assert "Location “Main Office” saved." in page_text(response)
    location.refresh_from_db()
    assert (location.phone, location.is_active) == ("555-0100", False)


def test_location_detail_edit_to_a_taken_name_changes_nothing(login, admin_a, practice_a):
    LocationFactory(practice=practice_a, name="Main Office")
    other = LocationFactory(practice=practice_a, name="Annex")
    response = login(admin_a).post(
        url("location_detail", practice_a, public_id=other.public_id), {**LOCATION_POST, "name": "Main Office"}
    )
    assert response.status_code == 200
    assert "Another location already has this name." in page_text(response)
    other.refresh_from_db()
    assert other.name == "Annex"


def test_location_detail_post_is_forbidden_to_front_desk(login, front_desk_a, practice_a):
    location = LocationFactory(practice=practice_a, name="Main Office")
    response = login(front_desk_a).post(url("location_detail", practice_a, public_id=location.public_id), LOCATION_POST)
    assert response.status_code == 403
    location.refresh_from_db()
    assert location.name == "Main Office"


def test_another_practices_location_is_404(login, admin_a, practice_a, practice_b):
    theirs = LocationFactory(practice=practice_b, name="Harbor Office")
    client = login(admin_a)
    assert client.get(url("location_detail", practice_a, public_id=theirs.public_id)).status_code == 404
    assert client.post(url("location_detail", practice_a, public_id=theirs.public_id), LOCATION_POST).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Harbor Office"


# --- Staff -----------------------------------------------------------------------------------


def test_staff_list_shows_members_roles_and_invitations(login, admin_a, supervisor_a, practice_a, make_member):
    with scopes_disabled():
        InvitationFactory(practice=practice_a, email="new@riverside.test", invited_by=admin_a)
    response = login(admin_a).get(url("staff_list", practice_a))
    text = page_text(response)
    assert response.status_code == 200
    assert "Sam Supervisor" in text and "badge--role-supervisor" in text
    assert "new@riverside.test" in text
    assert "Resend" in text and "Revoke" in text


def test_staff_list_hides_invitations_from_front_desk(login, admin_a, front_desk_a, practice_a):
    with scopes_disabled():
        InvitationFactory(practice=practice_a, email="new@riverside.test", invited_by=admin_a)
    response = login(front_desk_a).get(url("staff_list", practice_a))
    assert response.status_code == 200
    assert "Fran Desk" in page_text(response)
    assert "new@riverside.test" not in page_text(response)
    assert "Invite staff" not in page_text(response)


def test_staff_list_query_count_does_not_grow_with_rows(login, admin_a, supervisor_a, practice_a, make_member):
    client = login(admin_a)

    def add(n):
        for _ in range(n):
            with scopes_disabled():
                member = make_member(practice_a, Role.CLINICIAN, is_licensed=False, supervisor=supervisor_a)
                totp_device_for(member.user)
                InvitationFactory(practice=practice_a, invited_by=admin_a)

    add(3)
    bound = _query_count(client, url("staff_list", practice_a))
    add(27)
    assert _query_count(client, url("staff_list", practice_a)) == bound


def test_staff_invite_creates_an_invitation_and_emails_it(
    login, admin_a, practice_a, mailoutbox, django_capture_on_commit_callbacks
):
    client = login(admin_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("staff_invite", practice_a), {"email": "New@Riverside.test", "role": Role.CLINICIAN}, follow=True
        )
    assert "Invitation sent to new@riverside.test." in page_text(response)
    with practice_scope(practice_a):
        invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.is_licensed) == ("new@riverside.test", "clinician", False)
    assert [m.to for m in mailoutbox] == [["new@riverside.test"]]


def test_staff_invite_for_a_current_member_changes_nothing(login, admin_a, front_desk_a, practice_a):
    response = login(admin_a).post(url("staff_invite", practice_a), {"email": "desk@riverside.test", "role": "biller"})
    assert response.status_code == 200
    assert "This person is already a member of the practice." in page_text(response)
    assert 'id="id_email_error"' in page_text(response)
    with practice_scope(practice_a):
        assert not Invitation.objects.exists()


def test_admin_cannot_invite_an_owner(login, admin_a, practice_a):
    response = login(admin_a).post(url("staff_invite", practice_a), {"email": "boss@example.test", "role": "owner"})
    assert response.status_code == 200
    assert 'id="id_role_error"' in page_text(response)
    with practice_scope(practice_a):
        assert not Invitation.objects.exists()


@pytest.mark.parametrize("name", ["staff_invite"])
def test_staff_manage_pages_are_forbidden_to_front_desk(login, front_desk_a, practice_a, name):
    client = login(front_desk_a)
    assert client.get(url(name, practice_a)).status_code == 403
    assert client.post(url(name, practice_a), {"email": "x@example.test", "role": "clinician"}).status_code == 403
    with practice_scope(practice_a):
        assert not Invitation.objects.exists()


def test_staff_detail_updates_role_licence_and_supervisor(login, owner_a, supervisor_a, practice_a, make_member):
    member = make_member(practice_a, Role.CLINICIAN, full_name="Cleo Clinician")
    response = login(owner_a).post(
        url("staff_detail", practice_a, public_id=member.public_id),
        {"role": "clinician", "title": "LMHC", "is_licensed": "", "supervisor": str(supervisor_a.public_id)},
        follow=True,
    )
    assert "Changes to Cleo Clinician saved." in page_text(response)
    with scopes_disabled():
        member.refresh_from_db()
    assert (member.title, member.is_licensed, member.supervisor_id) == ("LMHC", False, supervisor_a.pk)


def test_pre_licensed_without_supervisor_changes_nothing(login, owner_a, practice_a, make_member):
    member = make_member(practice_a, Role.CLINICIAN)
    response = login(owner_a).post(
        url("staff_detail", practice_a, public_id=member.public_id),
        {"role": "clinician", "title": "", "is_licensed": "", "supervisor": ""},
    )
    assert response.status_code == 200
    assert "A pre-licensed clinician needs a supervisor." in page_text(response)
    assert 'id="id_supervisor_error"' in page_text(response)
    with scopes_disabled():
        member.refresh_from_db()
    assert member.is_licensed is True


def test_admin_sees_an_owner_read_only_and_cannot_post(login, admin_a, owner_a, practice_a):
    client = login(admin_a)
    detail = url("staff_detail", practice_a, public_id=owner_a.public_id)
    response = client.get(detail)
    assert response.status_code == 200
    assert "Save changes" not in page_text(response)
    assert client.post(detail, {"role": "admin", "is_licensed": "on"}).status_code == 403
    with scopes_disabled():
        owner_a.refresh_from_db()
    assert owner_a.role == Role.OWNER


def test_front_desk_sees_staff_detail_read_only(login, front_desk_a, supervisor_a, practice_a):
    client = login(front_desk_a)
    detail = url("staff_detail", practice_a, public_id=supervisor_a.public_id)
    response = client.get(detail)
    assert response.status_code == 200
    assert "Save changes" not in page_text(response) and "Deactivate" not in page_text(response)
    assert client.post(detail, {"role": "admin", "is_licensed": "on"}).status_code == 403
    with scopes_disabled():
        supervisor_a.refresh_from_db()
    assert supervisor_a.role == Role.SUPERVISOR


def test_deactivate_and_reactivate_a_member(login, admin_a, supervisor_a, practice_a):
    client = login(admin_a)
    response = client.post(url("staff_deactivate", practice_a, public_id=supervisor_a.public_id), follow=True)
    assert "Sam Supervisor was deactivated." in page_text(response)
    with scopes_disabled():
        supervisor_a.refresh_from_db()
    assert supervisor_a.is_active is False and supervisor_a.deactivated_at is not None

    response = client.post(url("staff_reactivate", practice_a, public_id=supervisor_a.public_id), follow=True)
    assert "Sam Supervisor can use this practice again." in page_text(response)
    with scopes_disabled():
        supervisor_a.refresh_from_db()
    assert supervisor_a.is_active is True


def test_deactivating_yourself_is_refused(login, admin_a, practice_a):
    response = login(admin_a).post(url("staff_deactivate", practice_a, public_id=admin_a.public_id), follow=True)
    assert "You cannot deactivate yourself." in page_text(response)
    with scopes_disabled():
        admin_a.refresh_from_db()
    assert admin_a.is_active is True


@pytest.mark.parametrize("name", ["staff_deactivate", "staff_reactivate"])
def test_member_status_changes_are_post_only_and_staff_manage_only(
    login, admin_a, front_desk_a, supervisor_a, practice_a, name
):
    target = url(name, practice_a, public_id=supervisor_a.public_id)
    assert login(admin_a).get(target).status_code == 405
    desk = login(front_desk_a, c=Client())
    assert desk.get(target).status_code == 403
    assert desk.post(target).status_code == 403
    with scopes_disabled():
        supervisor_a.refresh_from_db()
    assert supervisor_a.is_active is True


def test_another_practices_member_is_404(login, admin_a, practice_a, clinician_b):
    client = login(admin_a)
    assert client.get(url("staff_detail", practice_a, public_id=clinician_b.public_id)).status_code == 404
    assert client.post(url("staff_deactivate", practice_a, public_id=clinician_b.public_id)).status_code == 404
    with scopes_disabled():
        clinician_b.refresh_from_db()
    assert clinician_b.is_active is True


# --- Invitations -----------------------------------------------------------------------------


def test_revoke_an_invitation(login, admin_a, practice_a):
    with scopes_disabled():
        invitation = InvitationFactory(practice=practice_a, email="new@riverside.test", invited_by=admin_a)
    response = login(admin_a).post(url("invitation_revoke", practice_a, public_id=invitation.public_id), follow=True)
    assert "Invitation to new@riverside.test revoked." in page_text(response)
    with scopes_disabled():
        invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED


def test_resend_an_invitation_extends_and_emails_it(
    login, admin_a, practice_a, mailoutbox, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        invitation = InvitationFactory(
            practice=practice_a,
            email="new@riverside.test",
            invited_by=admin_a,
            sent_at=timezone.now() - timedelta(days=6),
            expires_at=timezone.now() + timedelta(days=1),
        )
    client = login(admin_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("invitation_resend", practice_a, public_id=invitation.public_id), follow=True)
    assert "Invitation sent again to new@riverside.test" in page_text(response)
    with scopes_disabled():
        invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    assert [m.to for m in mailoutbox] == [["new@riverside.test"]]


def test_revoking_a_revoked_invitation_shows_the_reason(login, admin_a, practice_a):
    with scopes_disabled():
        invitation = InvitationFactory(practice=practice_a, invited_by=admin_a, revoked_at=timezone.now())
    response = login(admin_a).post(url("invitation_revoke", practice_a, public_id=invitation.public_id), follow=True)
    assert "Only a pending invitation can be revoked." in page_text(response)


@pytest.mark.parametrize("name", ["invitation_revoke", "invitation_resend"])
def test_invitation_actions_are_forbidden_to_front_desk(login, admin_a, front_desk_a, practice_a, name):
    with scopes_disabled():
        invitation = InvitationFactory(practice=practice_a, invited_by=admin_a)
    client = login(front_desk_a)
    assert client.post(url(name, practice_a, public_id=invitation.public_id)).status_code == 403
    with scopes_disabled():
        invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_another_practices_invitation_is_404(login, admin_a, practice_a, practice_b):
    with scopes_disabled():
        theirs = InvitationFactory(practice=practice_b)
    response = login(admin_a).post(url("invitation_revoke", practice_a, public_id=theirs.public_id))
    assert response.status_code == 404
    with scopes_disabled():
        theirs.refresh_from_db()
    assert theirs.revoked_at is None


# --- Audit log -------------------------------------------------------------------------------


def _access_events(practice, member, n, **kwargs):
    """n access events by a member, written as a request inside the practice would."""

    class FakeRequest:
        path = "/p/test/"
        META = {"REMOTE_ADDR": "203.0.113.9"}
        headers = {}

    request = FakeRequest()
    request.practice, request.user = practice, member.user
    with practice_scope(practice):
        for i in range(n):
            access_record(
                request=request,
                action=kwargs.get("action", "view"),
                object_type="clinical.patient",
                object_id=f"obj-{i}",
                patient_id=kwargs.get("patient_id"),
            )


def test_audit_log_lists_access_and_change_events(login, admin_a, supervisor_a, practice_a):
    _access_events(practice_a, supervisor_a, 2)
    LocationFactory(practice=practice_a, name="Main Office")  # a change event
    client = login(admin_a)
    response = client.get(url("audit_log", practice_a))
    assert response.status_code == 200
    assert "Sam Supervisor" in page_text(response)
    assert "clinical.patient" in page_text(response)
    response = client.get(url("audit_log", practice_a) + "?tab=changes")
    assert "practice.location" in page_text(response)


def test_audit_log_filters_by_user_and_action(login, admin_a, supervisor_a, front_desk_a, practice_a):
    _access_events(practice_a, supervisor_a, 2, action="view")
    _access_events(practice_a, front_desk_a, 1, action="export")
    client = login(admin_a)
    response = client.get(url("audit_log", practice_a), {"member": str(front_desk_a.public_id)})
    assert response.context["page_obj"].paginator.count == 1
    response = client.get(url("audit_log", practice_a), {"action": "view"})
    assert response.context["page_obj"].paginator.count == 2


def test_audit_log_filters_by_patient_id(login, admin_a, supervisor_a, practice_a):
    patient_id = uuid.uuid4()
    _access_events(practice_a, supervisor_a, 2, patient_id=patient_id)
    _access_events(practice_a, supervisor_a, 1)
    response = login(admin_a).get(url("audit_log", practice_a), {"patient_id": str(patient_id)})
    assert response.context["page_obj"].paginator.count == 2


def test_audit_log_with_a_bad_patient_id_shows_an_error_and_no_rows(login, admin_a, supervisor_a, practice_a):
    _access_events(practice_a, supervisor_a, 2)
    response = login(admin_a).get(url("audit_log", practice_a), {"patient_id": "not-a-uuid"})
    assert response.status_code == 200
    assert 'id="id_patient_id_error"' in page_text(response)
    assert response.context["page_obj"].paginator.count == 0


def test_audit_log_paginates_50_per_page(login, admin_a, supervisor_a, practice_a):
    _access_events(practice_a, supervisor_a, 51)
    client = login(admin_a)
    first = client.get(url("audit_log", practice_a))
    assert len(first.context["page_obj"].object_list) == 50
    second = client.get(url("audit_log", practice_a), {"page": 2})
    assert len(second.context["page_obj"].object_list) == 1


def test_audit_log_query_count_does_not_grow_with_rows(login, admin_a, supervisor_a, practice_a):
    client = login(admin_a)
    _access_events(practice_a, supervisor_a, 3)
    for _ in range(3):
        LocationFactory(practice=practice_a)
    access_bound = _query_count(client, url("audit_log", practice_a))
    changes_bound = _query_count(client, url("audit_log", practice_a) + "?tab=changes")
    _access_events(practice_a, admin_a, 27)
    for _ in range(27):
        LocationFactory(practice=practice_a)
    assert _query_count(client, url("audit_log", practice_a)) == access_bound
    assert _query_count(client, url("audit_log", practice_a) + "?tab=changes") == changes_bound


def test_audit_log_is_forbidden_to_front_desk(login, front_desk_a, practice_a):
    client = login(front_desk_a)
    assert client.get(url("audit_log", practice_a)).status_code == 403
    assert client.get(url("audit_log_export", practice_a)).status_code == 403
    with practice_scope(practice_a):
        assert not AccessEvent.objects.exists()


def test_audit_export_streams_rows_and_records_the_export(login, admin_a, supervisor_a, practice_a, practice_b):
    _access_events(practice_a, supervisor_a, 3)
    LocationFactory(practice=practice_a, name="Main Office")
    LocationFactory(practice=practice_b, name="Harbor Office")
    response = login(admin_a).get(url("audit_log_export", practice_a))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    # Read the stream after the view returned: outside the request's practice scope, as a server would.
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    access_rows = [r for r in rows if r["log"] == "access"]
    change_rows = [r for r in rows if r["log"] == "change"]
    assert {r["object_id"] for r in access_rows} >= {"obj-0", "obj-1", "obj-2"}
    assert {r["user_email"] for r in access_rows if r["object_id"].startswith("obj-")} == {"sup@riverside.test"}
    assert any(r["object_type"] == "practice.location" and r["action"] == "create" for r in change_rows)
    with scopes_disabled():
        harbor_location_pk = str(Location.objects.get(name="Harbor Office").pk)
    assert harbor_location_pk not in {r["object_id"] for r in change_rows if r["object_type"] == "practice.location"}
    with practice_scope(practice_a):
        export = AccessEvent.objects.get(action="export")
    assert (export.object_type, export.user_id) == ("practice.accessevent", admin_a.user_id)


def test_audit_export_respects_filters_and_neutralises_formulas(login, admin_a, supervisor_a, practice_a):
    _access_events(practice_a, supervisor_a, 2)
    with scopes_disabled():
        supervisor_a.user.full_name = "=HYPERLINK(1)"
        supervisor_a.user.save(update_fields=["full_name"])
    response = login(admin_a).get(url("audit_log_export", practice_a), {"member": str(supervisor_a.public_id)})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    access_rows = [r for r in rows if r["log"] == "access"]
    assert len(access_rows) == 2
    assert {r["user_name"] for r in access_rows} == {"'=HYPERLINK(1)"}


# --- Dashboard and templates smoke test -----------------------------------------------------


def test_dashboard_shows_summary_and_acting_as(login, admin_a, front_desk_a, practice_a):
    LocationFactory(practice=practice_a)
    response = login(admin_a).get(url("practice_dashboard", practice_a))
    text = page_text(response)
    assert response.status_code == 200
    assert response.context["summary"] == {"active_members": 2, "locations": 1, "pending_invitations": 0}
    assert "Riverside Counseling" in text and "Practice admin" in text  # practice and role acted as
    assert "No appointments today." in text  # the scheduling module's card for today's load
    assert 'href="/p/riverside/audit/"' in text  # sidebar shows admin links to admins


def test_sidebar_hides_admin_links_from_front_desk(login, front_desk_a, practice_a):
    text = page_text(login(front_desk_a).get(url("practice_dashboard", practice_a)))
    assert 'href="/p/riverside/staff/"' in text
    assert 'href="/p/riverside/audit/"' not in text
    assert 'href="/p/riverside/settings/"' not in text


def test_sign_in_and_account_templates_render(client, admin_a, practice_a, practice_b, make_member):
    from practice.views.auth import PENDING_USER

    # Signed out: login, password reset pages, invalid invitation.
    for path in ("/login/", "/password-reset/", "/password-reset/sent/", "/password-reset/done/", "/invite/nope/"):
        response = client.get(path)
        assert response.status_code in (200, 404), path
        assert b"<main" in response.content
    assert b"Forgot password?" in client.get("/login/").content
    assert client.get("/password-reset/abc/def/").status_code == 200  # invalid link page

    # A user past the password step, before the code: verify page, then mfa set-up for one without.
    user = admin_a.user
    totp_device_for(user)
    session = client.session
    session[PENDING_USER] = user.pk
    session.save()
    response = client.get("/login/verify/")
    assert response.status_code == 200 and b'name="code"' in response.content
    newcomer = UserFactory(email="newcomer@example.test")
    session = client.session
    session[PENDING_USER] = newcomer.pk
    session.save()
    response = client.get("/login/mfa-setup/")
    assert response.status_code == 200 and b"<svg" in response.content

    # Signed in: account pages, practice chooser, an invitation for someone else, 403 page.
    make_member(practice_b, Role.CLINICIAN, user=user)
    signed_in = sign_in(Client(), admin_a)
    for path in ("/account/", "/account/password/", "/"):
        response = signed_in.get(path)
        assert response.status_code == 200, path
    assert b"Harbor Behavioral Health" in signed_in.get("/").content
    with scopes_disabled():
        Membership.all_objects.filter(user=user).update(role=Role.CLINICIAN)
    assert signed_in.get(url("audit_log", practice_a)).status_code == 403
    assert b"have access" in signed_in.get(url("audit_log", practice_a)).content


def test_admin_dashboard_shows_the_practices_documentation_backlog_as_counts(login, practice_a, make_member):
    from django_scopes import scopes_disabled

    from clinical.tests.factories import ProgressNoteFactory

    admin = make_member(practice_a, Role.ADMIN, email="backlog-admin@riverside.test")
    with scopes_disabled():
        note = ProgressNoteFactory(patient__practice=practice_a, patient__legal_last_name="Quenneville")
    page = login(admin).get(f"/p/{practice_a.slug}/").content.decode()
    assert "Whole practice" in page and "Unsigned drafts" in page
    assert note.patient.legal_last_name not in page  # counts only, no names
