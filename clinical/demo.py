"""Demo clinical records for `seed_demo`: realistic (fake) patients, diagnoses, notes in every
state, addenda, treatment plans, medications and consents — written through the services, so
the demo exercises the same rules as the product. Deterministic; skipped when the practice
already has patients (so a re-run changes nothing)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, time, timedelta

from django.utils import timezone

from clinical.models import CommunicationConsent, NoteTemplate, Patient, ProgressNote
from clinical.services import notes as note_services
from clinical.services import patients as patient_services
from clinical.services import plans as plan_services
from clinical.services import records as record_services
from practice.models import Membership, Practice, User

FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mateo",
    "Sophia",
    "Elijah",
    "Isabella",
    "Lucas",
    "Mia",
    "Levi",
    "Amelia",
    "Ezra",
    "Harper",
    "Kai",
    "Evelyn",
    "Leo",
    "Luna",
    "Miles",
    "Camila",
    "Jonah",
    "Aria",
    "Rowan",
    "Nora",
    "Theo",
    "Zoe",
    "Silas",
    "Ivy",
    "Jasper",
    "Maya",
    "Felix",
    "Ruby",
    "Omar",
    "Hazel",
    "Nico",
]
LAST = [
    "Nguyen",
    "Patel",
    "Garcia",
    "Johnson",
    "Okonkwo",
    "Kowalski",
    "Haddad",
    "Rivera",
    "Schmidt",
    "Tanaka",
    "Brennan",
    "Morales",
    "Lindqvist",
    "Abernathy",
    "Castillo",
    "Dubois",
    "Farouk",
    "Hernandez",
    "Ibsen",
    "Jablonski",
    "Khumalo",
    "Larsen",
    "Moreau",
    "Novak",
    "O'Connell",
    "Petrov",
    "Quintero",
    "Rasmussen",
    "Sato",
    "Thornton",
    "Umeh",
    "Vasquez",
    "Whitaker",
    "Xu",
    "Yilmaz",
    "Zamora",
]
# (sex assigned at birth, pronouns, gender identity)
IDENTITIES = (
    ("female", "she/her", "Woman"),
    ("male", "he/him", "Man"),
    ("female", "she/her", "Woman"),
    ("male", "he/him", "Man"),
    ("female", "they/them", "Non-binary"),
    ("male", "she/her", "Transgender woman"),
)
STREETS = ("NE Alberta St", "SE Hawthorne Blvd", "N Williams Ave", "SW Corbett Ave", "NW 23rd Ave", "SE Division St")

# (ICD-10-CM code, presenting problem, goal, objective, medication or None)
PRESENTATIONS = (
    (
        "F41.1",
        "Persistent worry and muscle tension affecting sleep and work.",
        "GAD-7 below 10 for four consecutive weeks.",
        "Use worry postponement daily for 3 weeks.",
        "Escitalopram",
    ),
    (
        "F32.1",
        "Low mood, anhedonia and withdrawal from friends since a job loss.",
        "PHQ-9 below 10 and back to two social activities a week.",
        "Schedule three pleasant activities weekly.",
        "Sertraline",
    ),
    (
        "F43.10",
        "Intrusive memories and avoidance after a car accident in March.",
        "PCL-5 reduced by at least 10 points.",
        "Complete weekly written exposure assignments.",
        None,
    ),
    (
        "F33.1",
        "Recurrent depressive episodes; current episode for two months.",
        "PHQ-9 below 10 sustained for a month.",
        "Keep a regular sleep-wake schedule 6 nights a week.",
        "Bupropion XL",
    ),
    (
        "F43.23",
        "Anxiety and low mood after a divorce; trouble adjusting to co-parenting.",
        "Reports managing co-parenting exchanges without panic.",
        "Practise paced breathing before exchanges.",
        None,
    ),
    (
        "F40.10",
        "Fear of speaking in meetings; avoids presentations.",
        "Gives one work presentation with tolerable anxiety.",
        "Complete a graded exposure hierarchy.",
        None,
    ),
    (
        "F90.0",
        "Inattention and disorganisation affecting college coursework.",
        "Submits 90% of assignments on time this term.",
        "Use a weekly planning routine every Sunday.",
        "Methylphenidate ER",
    ),
    (
        "F10.20",
        "Daily drinking, two failed attempts to cut down.",
        "Abstinent for 90 days.",
        "Attend two recovery meetings a week.",
        "Naltrexone",
    ),
)
SUBJECTIVE = (
    "Reports sleeping 6–7 hours most nights; one difficult day after a conflict at work.",
    "Says the week was 'mostly okay'; used the breathing skill twice when anxious.",
    "Describes more energy in the mornings and went for two walks with a friend.",
    "Reports increased worry about finances; skipped homework on two days.",
)
OBJECTIVE = (
    "Alert and oriented; affect congruent, somewhat constricted; speech normal rate.",
    "Good eye contact; engaged throughout; no psychomotor changes observed.",
    "Appeared tired; affect brighter when discussing family; thought process linear.",
)
ASSESSMENT = (
    "Symptoms are gradually decreasing; engagement with skills practice is improving.",
    "Progress toward treatment-plan goals is steady; avoidance remains the main barrier.",
    "Mild setback related to a stressor; coping better than at intake.",
)
PLAN_NEXT = (
    "Continue weekly sessions; practise the skill daily and log it.",
    "Review the exposure hierarchy next session; continue thought records.",
    "Coordinate with the prescriber about sleep; next session in one week.",
)
INTAKE = {
    "presenting_problem": "{problem}",
    "history_present": "Symptoms began about six months ago and worsened over the last two months.",
    "psychiatric_history": "One prior course of outpatient therapy in 2021; no hospitalisations.",
    "substance_use": "Alcohol socially, 1–2 drinks a week; no other substances.",
    "family_social": "Lives with a partner; works full time; close to one sibling.",
    "mental_status": "Casually dressed, cooperative; mood 'stressed'; affect anxious; thought process linear; "
    "no perceptual disturbances; insight and judgement fair.",
    "formulation": "Presentation is consistent with the working diagnosis; maintained by avoidance and worry.",
    "recommendations": "Weekly CBT for 12–16 sessions; measurement at every other session.",
}


@dataclass
class Caseload:
    clinician: Membership
    patients: int


@contextmanager
def _password_checked_once(password: str, encoded_ok) -> Iterator[None]:
    """Signing asks for the password each time; PBKDF2 is slow by design. The demo signs
    hundreds of notes with one known password, so remember the answer per stored hash."""
    original = User.check_password

    def check(user: User, raw: str) -> bool:
        return encoded_ok(user.password) if raw == password else original(user, raw)

    User.check_password = check
    try:
        yield
    finally:
        User.check_password = original


def seed_clinical(*, practice: Practice, password: str, encoded_ok, by_email: dict[str, Membership]) -> int:
    """Seed one practice's clinical record; returns how many patients were created (0 on a re-run)."""
    if Patient.objects.exists():
        return 0
    rng = random.Random(f"tend-demo-{practice.slug}")  # noqa: S311 - demo data, not security
    clinicians = [m for m in by_email.values() if m.role in ("clinician", "supervisor", "owner") and m.is_active]
    templates = {t.kind: t for t in NoteTemplate.objects.filter(is_builtin=True)}
    front_desk = next((m for m in by_email.values() if m.role in ("front_desk", "admin", "owner")), clinicians[0])
    today = timezone.localdate()
    created = 0
    with _password_checked_once(password, encoded_ok):
        for index, clinician in enumerate(sorted(clinicians, key=lambda m: m.user.email)):
            for n in range(3 if practice.slug == "cedar" else 8):
                patient = _patient(rng, practice, front_desk, clinician, index * 10 + n, today)
                created += 1
                _consents(patient, front_desk, rng)
                presentation = PRESENTATIONS[(index + n) % len(PRESENTATIONS)]
                _diagnoses(patient, clinician, presentation, rng)
                _notes(patient, clinician, templates, presentation, rng, today, password)
                if n % 2 == 0:
                    _plan(patient, clinician, presentation, today, due_soon=(n == 0 and index % 3 == 0))
                if presentation[4] and n % 3 != 2:
                    record_services.medication_save(
                        patient=patient,
                        by=clinician,
                        name=presentation[4],
                        dose="as prescribed",
                        frequency="once daily",
                        route="oral",
                        prescriber_name="Primary care provider",
                        started_on=today - timedelta(days=rng.randint(40, 300)),
                    )
        _psychotherapy_note(clinicians, today)
    return created


def _patient(rng, practice, by, clinician, seq, today) -> Patient:
    first, last = FIRST[seq % len(FIRST)], LAST[(seq * 7 + len(practice.slug)) % len(LAST)]
    is_minor = seq % 11 == 5
    age = rng.randint(14, 16) if is_minor else rng.randint(19, 72)
    dob = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
    fields = {
        "legal_first_name": first,
        "legal_last_name": last,
        "preferred_name": "Sam" if first == "Samuel" else "",
        "pronouns": IDENTITIES[seq % len(IDENTITIES)][1],
        "gender_identity": IDENTITIES[seq % len(IDENTITIES)][2],
        "date_of_birth": dob,
        "sex_assigned_at_birth": IDENTITIES[seq % len(IDENTITIES)][0],
        "address_line1": f"{rng.randint(100, 9800)} {STREETS[seq % len(STREETS)]}",
        "city": "Portland" if practice.slug == "cedar" else "Burlington",
        "state": "OR" if practice.slug == "cedar" else "VT",
        "postal_code": "97211" if practice.slug == "cedar" else "05401",
        "phone": f"(503) 555-{1000 + seq:04d}",
        "email": f"{first.lower()}.{last.lower().replace(chr(39), '')}@example.com",
        "emergency_contact_name": f"{FIRST[(seq + 5) % len(FIRST)]} {last}",
        "emergency_contact_phone": f"(503) 555-{2000 + seq:04d}",
        "emergency_contact_relationship": "Partner" if not is_minor else "Parent",
        "primary_clinician": clinician,
        "chart_alert": "Safety plan on file" if seq % 9 == 4 else "",
    }
    if is_minor:
        fields |= {
            "guardian_name": f"{FIRST[(seq + 3) % len(FIRST)]} {last}",
            "guardian_phone": f"(503) 555-{3000 + seq:04d}",
            "guardian_relationship": "Mother",
        }
    return patient_services.patient_create(by=by, **fields)


def _consents(patient, by, rng) -> None:
    for channel in (CommunicationConsent.Channel.EMAIL, CommunicationConsent.Channel.SMS):
        patient_services.consent_record(patient=patient, by=by, channel=channel, is_granted=rng.random() > 0.2)


def _diagnoses(patient, clinician, presentation, rng) -> None:
    patient_services.diagnosis_add(
        patient=patient,
        by=clinician,
        code=presentation[0],
        is_primary=True,
        onset_on=timezone.localdate() - timedelta(days=rng.randint(90, 700)),
    )
    if rng.random() < 0.35:
        patient_services.diagnosis_add(patient=patient, by=clinician, code="Z63.0")


def _notes(patient, clinician, templates, presentation, rng, today, password) -> None:
    sessions = rng.randint(3, 6)
    first_session = today - timedelta(days=7 * sessions + rng.randint(1, 5))
    for i in range(sessions):
        session_on = first_session + timedelta(days=7 * i)
        if i == 0:
            template, content = templates["intake"], {k: v.format(problem=presentation[1]) for k, v in INTAKE.items()}
            service_code = "90791"
        else:
            kind = ("soap", "dap", "birp")[(patient.pk + i) % 3 if clinician.pk % 2 else 0]
            template = templates[kind]
            content = _progress_content(template, rng)
            service_code = rng.choice(("90834", "90837", "90834"))
        note = note_services.note_create(author=clinician, patient=patient, template=template, session_on=session_on)
        start = time(rng.choice((9, 10, 11, 13, 14, 15, 16)), 0)
        minutes = 55 if service_code == "90837" else 50 if service_code == "90791" else 45
        end = (timezone.datetime.combine(session_on, start) + timedelta(minutes=minutes)).time()
        note_services.note_update_draft(
            note=note,
            by=clinician,
            fields={
                "content": content,
                "start_time": start,
                "end_time": end,
                "service_code": service_code,
                "participants": "Patient",
                "risk_ideation": "none" if rng.random() > 0.1 else "passive",
                "risk_plan": False,
                "risk_intent": False,
                "risk_means": False,
                "risk_protective_factors": "Supportive partner; future-oriented; engaged in treatment.",
                "risk_level": "low",
                "interventions": rng.sample(
                    [
                        "Cognitive behavioural therapy (CBT)",
                        "Psychoeducation",
                        "Mindfulness",
                        "Behavioural activation",
                        "Motivational interviewing",
                    ],
                    2,
                ),
                "plan": "Continue weekly psychotherapy.",
            },
        )
        last = i == sessions - 1
        if last and (patient.pk % 4 == 0):
            continue  # the newest note is still a draft: outstanding work
        note = note_services.note_sign(note=note, by=clinician, credential=password)
        if note.status == ProgressNote.Status.AWAITING_COSIGN and not last and clinician.supervisor:
            note_services.note_cosign(note=note, by=clinician.supervisor, credential=password)
        if i == 1 and patient.pk % 5 == 0:
            note_services.addendum_add(
                note=note,
                by=clinician,
                reason="Late entry",
                text="Patient called after the session to report the new sleep schedule is working.",
            )


def _progress_content(template, rng) -> dict[str, str]:
    pools = {
        "subjective": SUBJECTIVE,
        "data": SUBJECTIVE,
        "behavior": SUBJECTIVE,
        "objective": OBJECTIVE,
        "intervention": ("Reviewed thought records; practised cognitive restructuring.",),
        "response": ("Engaged well; identified two alternative thoughts with support.",),
        "assessment": ASSESSMENT,
        "plan_next": PLAN_NEXT,
    }
    return {s["key"]: rng.choice(pools.get(s["key"], ASSESSMENT)) for s in template.sections}


def _plan(patient, clinician, presentation, today, *, due_soon: bool) -> None:
    plan = plan_services.plan_create(
        patient=patient,
        by=clinician,
        review_on=today + timedelta(days=5 if due_soon else 75),
        effective_on=today - timedelta(days=20),
        strengths="Motivated for change; supportive relationships.",
        problems=[
            {
                "description": presentation[1],
                "goals": [
                    {
                        "description": presentation[2],
                        "interventions": "Weekly individual CBT; measurement-based care every other session.",
                        "objectives": [
                            {
                                "description": presentation[3],
                                "target_on": today + timedelta(days=45),
                                "status": "in_progress",
                            },
                            {
                                "description": "Complete a relapse-prevention plan.",
                                "target_on": today + timedelta(days=90),
                            },
                        ],
                    }
                ],
            }
        ],
    )
    plan_services.plan_sign(plan=plan, by=clinician)


def _psychotherapy_note(clinicians, today) -> None:
    author = clinicians[0]
    patient = Patient.objects.filter(primary_clinician=author).order_by("id").first()
    if patient is not None:
        note_services.psychotherapy_note_save(
            author=author,
            patient=patient,
            session_on=today - timedelta(days=2),
            body="Process notes: themes of abandonment surfaced when discussing the therapy break; "
            "hypothesis about the client's testing of the relationship. (Visible to the author only.)",
        )
