"""Patient coverage: services (one active primary, subscriber loop, deactivate, billing settings),
the coverage pages (add/edit, 270 download, 271 upload) and the chart's Coverage & billing section."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Coverage, EligibilityCheck, PatientBillingSettings
from billing.selectors_setup import active_coverage
from billing.services_setup import coverage_deactivate, coverage_save
from billing.tests import factories as bf
from clinical.tests.factories import PatientFactory
from practice.errors import DomainError
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db
SAMPLE_271 = (Path(__file__).parent / "data" / "eligibility_271_active.txt").read_text()

SUBSCRIBER = {
    "subscriber_first_name": "Jordan",
    "subscriber_last_name": "Quinlan",
    "subscriber_date_of_birth": date(1965, 1, 2),
    "subscriber_sex": "M",
    "subscriber_address_line1": "12 Elm Street",
    "subscriber_city": "Portland",
    "subscriber_state": "OR",
    "subscriber_zip_code": "97205",
}


@pytest.fixture
def world(practice_a):
    with practice_scope(practice_a):
        payer = bf.PayerFactory(practice=practice_a, name="Acme Commercial", payer_id="60054")
        other_payer = bf.PayerFactory(practice=practice_a, name="Medicaid of Oregon")
        patient = PatientFactory(
            practice=practice_a, legal_first_name="Avery", legal_last_name="Quinlan", date_of_birth=date(1990, 4, 12)
        )
        yield {"practice": practice_a, "payer": payer, "other_payer": other_payer, "patient": patient}


def _data(world, **kw):
    return {"payer": world["payer"], "priority": "P", "member_id": "XYZ000000001", "relationship": "18", **kw}


def test_one_active_primary_at_a_time(world):
    with practice_scope(world["practice"]):
        first = coverage_save(patient=world["patient"], data=_data(world))
        with pytest.raises(DomainError, match="already has an active primary coverage \\(Acme Commercial\\)"):
            coverage_save(patient=world["patient"], data=_data(world, payer=world["other_payer"]))
        secondary = coverage_save(patient=world["patient"], data=_data(world, payer=world["other_payer"], priority="S"))
        assert active_coverage(world["patient"]) == first
        assert active_coverage(world["patient"], priority="S") == secondary
        coverage_deactivate(coverage=first)
        assert first.ends_on == timezone.localdate() and not first.is_active
        assert active_coverage(world["patient"]) is None
        assert coverage_save(patient=world["patient"], data=_data(world, payer=world["other_payer"])).is_active


def test_active_coverage_respects_dates(world):
    with practice_scope(world["practice"]):
        coverage = coverage_save(
            patient=world["patient"], data=_data(world, starts_on=date(2026, 1, 1), ends_on=date(2026, 6, 30))
        )
        assert active_coverage(world["patient"], on=date(2026, 3, 1)) == coverage
        assert active_coverage(world["patient"], on=date(2025, 12, 31)) is None
        assert active_coverage(world["patient"], on=date(2026, 7, 1)) is None
        with pytest.raises(DomainError, match="ends before it starts"):
            coverage_save(patient=world["patient"], coverage=coverage, data={"ends_on": date(2025, 1, 1)})


def test_dependent_needs_the_subscriber(world):
    with practice_scope(world["practice"]):
        with pytest.raises(DomainError) as exc:
            coverage_save(
                patient=world["patient"], data=_data(world, relationship="19", **{**SUBSCRIBER, "subscriber_sex": ""})
            )
        assert exc.value.field == "subscriber_sex"
        coverage = coverage_save(patient=world["patient"], data=_data(world, relationship="19", **SUBSCRIBER))
        assert coverage.subscriber_last_name == "Quinlan"
        # back to self clears the subscriber fields (SBR02 = 18: no 2000C loop)
        coverage = coverage_save(patient=world["patient"], coverage=coverage, data={"relationship": "18"})
        assert coverage.subscriber_first_name == "" and coverage.subscriber_date_of_birth is None


@pytest.fixture
def desk(world, make_member, login):
    member = make_member(world["practice"], Role.FRONT_DESK, email="desk@riverside.test")
    login(member)
    return member


def _url(world, name, **kw):
    return reverse(
        name, kwargs={"practice_slug": world["practice"].slug, "patient_id": world["patient"].public_id, **kw}
    )


def _post_data(world, **kw):
    data = {
        "action": "add",
        "payer": world["payer"].pk,
        "priority": "P",
        "member_id": "XYZ000000001",
        "group_number": "GRP1",
        "plan_name": "PPO Gold",
        "relationship": "18",
        "starts_on": "2026-01-01",
        "ends_on": "",
        "copay": "30",
        "coinsurance_percent": "20",
    }
    data.update({k: "" for k in SUBSCRIBER})
    data.update(kw)
    return data


def test_coverage_page_add_list_and_settings(world, desk, client):
    page = _url(world, "patient_coverage")
    assert client.get(page).status_code == 200
    assert client.post(page, _post_data(world)).status_code == 302
    response = client.post(page, _post_data(world, relationship="19"))
    assert response.status_code == 400
    assert "required when the patient is not the subscriber" in response.content.decode()
    with practice_scope(world["practice"]):
        coverage = Coverage.objects.get()
        tier = bf.SlidingScaleTierFactory(practice=world["practice"], name="Tier C", discount_percent=60)
    assert coverage.copay_cents == 3000 and coverage.coinsurance_percent == 20
    html = client.get(page).content.decode()
    assert "Acme Commercial" in html and "$30.00 copay" in html and "Add authorization" in html
    assert client.post(page, {"action": "settings", "self_pay": "on", "sliding_scale_tier": tier.pk}).status_code == 302
    with practice_scope(world["practice"]):
        settings = PatientBillingSettings.objects.get(patient=world["patient"])
    assert settings.self_pay and settings.sliding_scale_tier == tier
    with practice_scope(world["practice"]):
        assert AccessEvent.objects.filter(
            object_type="billing.coverage", patient_id=world["patient"].public_id
        ).exists()


def test_coverage_edit_deactivate(world, desk, client):
    with practice_scope(world["practice"]):
        coverage = bf.CoverageFactory(practice=world["practice"], patient=world["patient"], payer=world["payer"])
    edit = _url(world, "coverage_edit", coverage_id=coverage.public_id)
    assert client.get(edit).status_code == 200
    data = _post_data(
        world,
        action="save",
        member_id="NEW123",
        relationship="01",
        **{k: str(v) if not isinstance(v, date) else v.isoformat() for k, v in SUBSCRIBER.items()},
    )
    assert client.post(edit, data).status_code == 302
    with practice_scope(world["practice"]):
        coverage.refresh_from_db()
    assert coverage.member_id == "NEW123" and coverage.relationship == "01" and coverage.subscriber_zip_code == "97205"
    assert client.post(edit, {"action": "deactivate"}).status_code == 302
    with practice_scope(world["practice"]):
        coverage.refresh_from_db()
    assert not coverage.is_active


def test_eligibility_from_the_coverage_page_round_trip(world, desk, client):
    with practice_scope(world["practice"]):
        bf.BillingProfileFactory(practice=world["practice"])
        coverage = bf.CoverageFactory(
            practice=world["practice"], patient=world["patient"], payer=world["payer"], member_id="XYZ000000001"
        )
    edit = _url(world, "coverage_edit", coverage_id=coverage.public_id)
    assert client.post(edit, {"action": "eligibility"}).status_code == 302
    with practice_scope(world["practice"]):
        check = EligibilityCheck.objects.get()
    download = reverse(
        "eligibility_download", kwargs={"practice_slug": world["practice"].slug, "check_id": check.public_id}
    )
    response = client.get(download)
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    assert response.content.decode().startswith("ISA*") and "ST*270*" in response.content.decode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = _url(world, "patient_coverage")
    bad = SimpleUploadedFile("x.txt", SAMPLE_271.replace("ST*271*", "ST*999*").encode())
    response = client.post(page, {"action": "upload_271", "file": bad})
    assert response.status_code == 400 and "ST01 is 999: this is not a 271" in response.content.decode()
    good = SimpleUploadedFile("271.txt", SAMPLE_271.encode())
    assert client.post(page, {"action": "upload_271", "file": good}).status_code == 302
    html = client.get(page).content.decode()
    assert "Coverage active" in html and "Co-payment" in html and "$30.00" in html and "20%" in html
    assert "In network" in html and "Out of network" in html


def test_clinician_cannot_manage_coverage(world, make_member, login, client):
    member = make_member(world["practice"], Role.CLINICIAN, email="c@riverside.test")
    login(member)
    assert client.get(_url(world, "patient_coverage")).status_code == 403


@pytest.mark.parametrize("size", [1, 6])
def test_coverage_page_has_bounded_queries(world, desk, client, django_assert_max_num_queries, size):
    with practice_scope(world["practice"]):
        bf.BillingProfileFactory(practice=world["practice"])
        for i in range(size):
            coverage = bf.CoverageFactory(
                practice=world["practice"],
                patient=world["patient"],
                payer=bf.PayerFactory(practice=world["practice"]),
                priority="P" if i == 0 else "S",
                is_active=i < 2,
            )
            for _ in range(2):
                auth = bf.PriorAuthorizationFactory(practice=world["practice"], coverage=coverage)
                bf.ChargeFactory(
                    practice=world["practice"], coverage=coverage, patient=world["patient"], prior_authorization=auth
                )
            bf.EligibilityCheckFactory(practice=world["practice"], coverage=coverage)
    with django_assert_max_num_queries(27):
        assert client.get(_url(world, "patient_coverage")).status_code == 200


def test_chart_shows_coverage_to_billing_roles_only(world, make_member, login, client):
    with practice_scope(world["practice"]):
        bf.CoverageFactory(
            practice=world["practice"], patient=world["patient"], payer=world["payer"], member_id="M-777"
        )
    chart = reverse(
        "patient_chart", kwargs={"practice_slug": world["practice"].slug, "patient_id": world["patient"].public_id}
    )
    login(make_member(world["practice"], Role.FRONT_DESK, email="fd@riverside.test"))
    html = client.get(chart).content.decode()
    assert "Coverage &amp; billing" in html and "M-777" in html and "Manage coverage" in html
    assert "Coming with later modules" not in html
    with practice_scope(world["practice"]):
        world["patient"].primary_clinician = make_member(world["practice"], Role.CLINICIAN, email="cc@riverside.test")
        world["patient"].save()
    login(world["patient"].primary_clinician)
    html = client.get(chart).content.decode()
    assert "M-777" not in html and "Coming with later modules" not in html
