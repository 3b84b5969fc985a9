"""The note templates Tend ships. Each practice gets its own copy (rows of NoteTemplate), which
an admin can copy and adapt; the notes keep pointing at the template they were written with."""

from __future__ import annotations


def _s(key: str, label: str, help_text: str = "", required: bool = True) -> dict:
    return {"key": key, "label": label, "help": help_text, "required": required}


BUILTIN_TEMPLATES: list[dict] = [
    {
        "name": "Intake / biopsychosocial assessment",
        "kind": "intake",
        "default_service_code": "90791",
        "description": "First-visit psychiatric diagnostic evaluation.",
        "sections": [
            _s("presenting_problem", "Presenting problem", "In the patient's words, and why now."),
            _s("history_present", "History of present illness"),
            _s("psychiatric_history", "Psychiatric history", "Prior diagnoses, treatment, hospitalisations."),
            _s("substance_use", "Substance use"),
            _s("medical_history", "Medical history and medications", required=False),
            _s("family_social", "Family and social history", "Relationships, housing, work or school, supports."),
            _s("trauma", "Trauma history", required=False),
            _s(
                "mental_status",
                "Mental status examination",
                "Appearance, behaviour, speech, mood, affect, thought process and content, cognition, insight, judgement.",
            ),
            _s("strengths", "Strengths and resources", required=False),
            _s("formulation", "Clinical formulation and diagnosis"),
            _s("recommendations", "Recommendations and initial plan"),
        ],
    },
    {
        "name": "Progress note — SOAP",
        "kind": "soap",
        "default_service_code": "90834",
        "description": "Subjective, Objective, Assessment, Plan.",
        "sections": [
            _s("subjective", "Subjective", "What the patient reported: symptoms, events, concerns since last session."),
            _s("objective", "Objective", "Observations: appearance, affect, behaviour; scores of measures given."),
            _s("assessment", "Assessment", "Clinical impression and progress toward treatment-plan goals."),
            _s("plan_next", "Plan", "Next steps, homework, next session."),
        ],
    },
    {
        "name": "Progress note — DAP",
        "kind": "dap",
        "default_service_code": "90834",
        "description": "Data, Assessment, Plan.",
        "sections": [
            _s("data", "Data", "Subjective and objective information from the session."),
            _s("assessment", "Assessment", "Interpretation and progress toward goals."),
            _s("plan_next", "Plan", "Next steps and follow-up."),
        ],
    },
    {
        "name": "Progress note — BIRP",
        "kind": "birp",
        "default_service_code": "90834",
        "description": "Behaviour, Intervention, Response, Plan.",
        "sections": [
            _s("behavior", "Behaviour", "Presentation and reported behaviour, in observable terms."),
            _s("intervention", "Intervention", "What the clinician did, linked to treatment-plan objectives."),
            _s("response", "Response", "How the patient responded to the interventions."),
            _s("plan_next", "Plan", "Next steps and follow-up."),
        ],
    },
    {
        "name": "Group note",
        "kind": "group",
        "default_service_code": "90853",
        "description": "One note per group member.",
        "sections": [
            _s("group_topic", "Group topic and focus"),
            _s("participation", "Member's participation", "Engagement, contributions, interactions."),
            _s("response", "Response to group interventions"),
            _s("plan_next", "Plan"),
        ],
    },
    {
        "name": "Crisis note",
        "kind": "crisis",
        "default_service_code": "90839",
        "description": "Psychotherapy for crisis.",
        "sections": [
            _s("precipitant", "Precipitating event"),
            _s("presentation", "Presentation and mental status"),
            _s("intervention", "Crisis interventions", "De-escalation, safety planning, contacts made."),
            _s("disposition", "Disposition", "Outcome: safety plan, referral, hospitalisation, follow-up."),
        ],
    },
    {
        "name": "Discharge summary",
        "kind": "discharge",
        "default_service_code": "",
        "description": "Summary of treatment at discharge.",
        "sections": [
            _s("reason", "Reason for discharge"),
            _s("course", "Course of treatment"),
            _s("progress", "Progress on goals", "Include outcome measures at intake and discharge."),
            _s("condition", "Condition at discharge"),
            _s("aftercare", "Aftercare and referrals"),
        ],
    },
]

# Interventions offered as checkboxes on notes (free text goes in the sections).
INTERVENTIONS: list[str] = [
    "Cognitive behavioural therapy (CBT)",
    "Dialectical behaviour therapy (DBT) skills",
    "Acceptance and commitment therapy (ACT)",
    "Motivational interviewing",
    "Trauma-focused CBT",
    "EMDR",
    "Exposure therapy",
    "Psychoeducation",
    "Mindfulness",
    "Behavioural activation",
    "Problem-solving therapy",
    "Safety planning",
    "Family systems",
    "Solution-focused therapy",
    "Supportive therapy",
    "Relaxation / grounding",
]
