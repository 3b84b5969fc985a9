"""Clinical notes: drafts, autosave, signing, co-signing, addenda, psychotherapy notes, templates.

Rules (SPEC 3):
- Only the author edits a draft; a repeated autosave with the same content writes nothing.
- Signing needs the signer's password or a current authenticator / recovery code, every required
  section, and the risk assessment when the template has one. A pre-licensed author's signature
  waits for the supervisor's co-signature (AWAITING_COSIGN); only then is the note complete.
- A signed note never changes (here, and on PostgreSQL by a trigger); later changes are addenda.
- Psychotherapy notes (45 CFR 164.501) belong to their author alone.
Writes are audited by django-auditlog in the same transaction.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinical import access
from clinical.models import (
    CPT_VALIDATOR,
    Ideation,
    Modality,
    NoteAddendum,
    NoteTemplate,
    Patient,
    ProgressNote,
    PsychotherapyNote,
    RiskLevel,
)
from clinical.note_templates import INTERVENTIONS
from practice.errors import DomainError
from practice.models import Location, Membership
from practice.permissions import Perm

SIGNED_NOTE_MESSAGE = "Signed notes cannot be changed; add an addendum."
NOTE_CHANGED_MESSAGE = (
    "This note was changed on another device while you were signing, so it was not signed. "
    "Review the latest text and sign again."
)

# Place of service for telehealth (CMS POS code set).
POS_TELEHEALTH_HOME = "10"
POS_TELEHEALTH_OTHER = "02"
POS_OFFICE = "11"

# A session whose end time is earlier than its start crosses midnight, up to this long.
MAX_SESSION_ACROSS_MIDNIGHT = timedelta(hours=8)

# What note_create / note_update_draft accept. `patient_at_home` is not a column: it picks the
# telehealth place of service (10 patient's home, 02 elsewhere).
EDITABLE_FIELDS = frozenset(
    {
        "session_on",
        "start_time",
        "end_time",
        "service_code",
        "modality",
        "patient_at_home",
        "location",
        "participants",
        "content",
        "risk_ideation",
        "risk_plan",
        "risk_intent",
        "risk_means",
        "risk_protective_factors",
        "risk_level",
        "interventions",
        "plan",
    }
)
TEXT_FIELDS = ("participants", "risk_protective_factors", "plan")
SECTION_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


# --- Helpers ---------------------------------------------------------------------------------


def _require(by: Membership, perm: Perm) -> None:
    if not by.is_active or not by.has_perm(perm):
        raise DomainError("Your role does not allow this.", code="forbidden")


def _same_practice(by: Membership, *objs: Any) -> None:
    for obj in objs:
        if obj is not None and obj.practice_id != by.practice_id:
            raise DomainError("Not found.", code="not_found")


def _require_clinical(by: Membership, patient: Patient) -> None:
    _same_practice(by, patient)
    _require(by, Perm.NOTE_WRITE)
    if not access.can_view_clinical(by, patient):
        raise DomainError("Not found.", code="not_found")


def _text(value: Any) -> str:
    """Text as typed, with browser line endings normalised (CRLF would make a fresh hash)."""
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def _credential_ok(user, credential: str) -> bool:
    """Re-entered password, or (for users with MFA) a current TOTP or an unused recovery code."""
    from practice.services import mfa_verify, user_has_mfa

    credential = (credential or "").strip()
    if not credential:
        return False
    if user_has_mfa(user) and mfa_verify(user=user, code=credential) is not None:
        return True
    return user.check_password(credential)


def _check_credential(by: Membership, credential: str) -> None:
    if not _credential_ok(by.user, credential):
        raise DomainError("That password or authenticator code is not right.", field="credential")


def session_minutes(session_on: date, start: time | None, end: time | None) -> int | None:
    if not (start and end):
        return None
    begin = datetime.combine(session_on, start)
    finish = datetime.combine(session_on, end)
    if finish <= begin:
        finish += timedelta(days=1)
    return int((finish - begin).total_seconds() // 60)


def _check_times(note: ProgressNote) -> None:
    start, end = note.start_time, note.end_time
    if end and not start:
        raise DomainError("Enter the start time too.", field="start_time")
    if not (start and end):
        return
    if end == start:
        raise DomainError("The end time must be after the start time.", field="end_time")
    if end < start:
        crossing = datetime.combine(date.min + timedelta(days=1), end) - datetime.combine(date.min, start)
        if crossing > MAX_SESSION_ACROSS_MIDNIGHT:
            raise DomainError("The end time must be after the start time.", field="end_time")


def _place_of_service(note: ProgressNote, patient_at_home: bool | None) -> str:
    if note.modality == Modality.TELEHEALTH:
        if patient_at_home is None:  # keep the current choice when the update does not say
            return (
                note.place_of_service
                if note.place_of_service in (POS_TELEHEALTH_HOME, POS_TELEHEALTH_OTHER)
                else (POS_TELEHEALTH_HOME)
            )
        return POS_TELEHEALTH_HOME if patient_at_home else POS_TELEHEALTH_OTHER
    return note.location.place_of_service if note.location else POS_OFFICE


def _apply(note: ProgressNote, template: NoteTemplate, fields: dict[str, Any]) -> None:
    """Validate ``fields`` and set them on ``note`` (in memory)."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise DomainError(f"Unknown note field(s): {', '.join(sorted(unknown))}.")
    for name in TEXT_FIELDS:
        if name in fields:
            setattr(note, name, _text(fields[name]))
    if len(note.participants) > 300:
        raise DomainError("Keep the participants under 300 characters.", field="participants")
    if "session_on" in fields:
        if not isinstance(fields["session_on"], date):
            raise DomainError("Enter the session date.", field="session_on")
        if fields["session_on"] > timezone.localdate() + timedelta(days=1):
            raise DomainError("The session date cannot be in the future.", field="session_on")
        note.session_on = fields["session_on"]
    for name in ("start_time", "end_time"):
        if name in fields:
            setattr(note, name, fields[name] or None)
    if "service_code" in fields:
        code = (fields["service_code"] or "").strip().upper()
        if code:
            try:
                CPT_VALIDATOR(code)
            except ValidationError as exc:
                raise DomainError(exc.messages[0], field="service_code") from exc
        note.service_code = code
    if "modality" in fields:
        if fields["modality"] not in Modality.values:
            raise DomainError("Choose in person or telehealth.", field="modality")
        note.modality = fields["modality"]
    if "location" in fields:
        location = fields["location"]
        if location is not None and (not isinstance(location, Location) or location.practice_id != note.practice_id):
            raise DomainError("Choose a location of this practice.", field="location")
        note.location = location
    if "content" in fields:
        content = fields["content"] or {}
        if not isinstance(content, dict):
            raise DomainError("Note content must be sections of text.", field="content")
        keys = {s["key"] for s in template.sections}
        unknown_sections = sorted(set(content) - keys)
        if unknown_sections:
            raise DomainError(
                f"This template has no section {', '.join(unknown_sections)}.", field="content", code="unknown_section"
            )
        merged = dict(note.content or {})
        merged.update({k: _text(v) for k, v in content.items()})
        # display order of the template; empty sections kept as "" so the hash is stable
        note.content = {k: merged.get(k, "") for k in (s["key"] for s in template.sections)}
    if "risk_ideation" in fields:
        value = fields["risk_ideation"] or ""
        if value and value not in Ideation.values:
            raise DomainError("Choose a level of suicidal ideation.", field="risk_ideation")
        note.risk_ideation = value
    if "risk_level" in fields:
        value = fields["risk_level"] or ""
        if value and value not in RiskLevel.values:
            raise DomainError("Choose a risk level.", field="risk_level")
        note.risk_level = value
    for name in ("risk_plan", "risk_intent", "risk_means"):
        if name in fields:
            value = fields[name]
            if value not in (None, True, False):
                raise DomainError("Answer yes, no or not assessed.", field=name)
            setattr(note, name, value)
    if "interventions" in fields:
        chosen = list(fields["interventions"] or [])
        unknown_iv = [i for i in chosen if i not in INTERVENTIONS]
        if unknown_iv:
            raise DomainError("Choose interventions from the list.", field="interventions")
        note.interventions = [i for i in INTERVENTIONS if i in chosen]  # one canonical order
    _check_times(note)
    if {"modality", "location", "patient_at_home"} & set(fields):
        note.place_of_service = _place_of_service(note, fields.get("patient_at_home"))


def _locked_note(note: ProgressNote) -> ProgressNote:
    return (
        ProgressNote.objects.select_for_update(of=("self",))
        .select_related("template", "author__user", "location")
        .get(pk=note.pk)
    )


# --- Progress notes --------------------------------------------------------------------------


@transaction.atomic
def note_create(
    *, author: Membership, patient: Patient, template: NoteTemplate, session_on: date, **fields: Any
) -> ProgressNote:
    """Start a draft note from a template for a patient the author may chart on."""
    _require_clinical(author, patient)
    _same_practice(author, template)
    if not template.is_active:
        raise DomainError("That template is no longer in use.", field="template")
    note = ProgressNote(
        practice_id=author.practice_id,
        patient=patient,
        author=author,
        template=template,
        kind=template.kind,
        session_on=session_on,
        service_code=template.default_service_code,
        content={s["key"]: "" for s in template.sections},
    )
    _apply(note, template, {"session_on": session_on, **fields})
    if not {"modality", "location", "patient_at_home"} & set(fields):
        note.place_of_service = _place_of_service(note, None)
    note.content_hash = note.compute_content_hash()
    note.revision = 1
    note.save()
    return note


@transaction.atomic
def note_update_draft(*, note: ProgressNote, by: Membership, fields: dict[str, Any]) -> tuple[ProgressNote, bool]:
    """Save the author's changes to a draft. Returns (note, changed); unchanged content writes nothing."""
    _same_practice(by, note)
    note = _locked_note(note)
    if note.is_locked:
        raise DomainError(SIGNED_NOTE_MESSAGE, code="signed")
    if note.author_id != by.pk:
        raise DomainError("Only the note's author can edit it.", code="forbidden")
    _require(by, Perm.NOTE_WRITE)
    _apply(note, note.template, dict(fields))
    new_hash = note.compute_content_hash()
    if new_hash == note.content_hash:
        return note, False
    note.content_hash = new_hash
    note.revision += 1
    note.save()
    return note, True


def missing_for_signature(note: ProgressNote) -> list[str]:
    """What the note still lacks before it can be signed (labels, for the message)."""
    missing = [
        s["label"]
        for s in note.template.sections
        if s.get("required") and not (note.content or {}).get(s["key"], "").strip()
    ]
    if note.template.includes_risk_assessment:
        if not note.risk_ideation:
            missing.append("Risk assessment: suicidal ideation")
        if not note.risk_level:
            missing.append("Risk assessment: risk level")
    missing += _risk_alert_missing(note)
    return missing


def _risk_alert_missing(note: ProgressNote) -> list[str]:
    """The safety loop: while the patient has a risk alert no signed note has answered (and that
    was not acknowledged as not clinically significant), the note needs its risk assessment
    (ideation, risk level) and protective factors / safety plan, whatever its template."""
    from assessments.selectors_alerts import risk_requirements_for_note

    alerts = risk_requirements_for_note(note)
    if not alerts or (note.risk_ideation and note.risk_level and (note.risk_protective_factors or "").strip()):
        return []
    first = alerts[0]
    when = timezone.localtime(first.response.completed_at).date()
    kind = "open risk alert" if first.status == "open" else "risk alert"
    more = f" and {len(alerts) - 1} more" if len(alerts) > 1 else ""
    return [
        f"Risk assessment and safety plan ({kind} from {first.response.instrument_code} on {when.day} {when:%b}{more})"
    ]


@transaction.atomic
def note_sign(
    *, note: ProgressNote, by: Membership, credential: str, expected_revision: int | None = None
) -> ProgressNote:
    """Sign a draft with re-entered credentials. Pre-licensed authors go to their supervisor.

    ``expected_revision`` is the revision the signer is looking at (the editor saves its text
    first, in its own transaction): if another tab or device saved the draft in between, nothing
    is signed, so a signature never covers text its signer did not see."""
    _same_practice(by, note)
    note = _locked_note(note)
    if note.is_locked:
        raise DomainError(SIGNED_NOTE_MESSAGE, code="signed")
    if expected_revision is not None and note.revision != expected_revision:
        raise DomainError(NOTE_CHANGED_MESSAGE, code="changed")
    if note.author_id != by.pk:
        raise DomainError("Only the note's author can sign it.", code="forbidden")
    _require(by, Perm.NOTE_WRITE)
    missing = missing_for_signature(note)
    if missing:
        raise DomainError(f"Complete these before signing: {'; '.join(missing)}.", field="content")
    cosigner = None
    if not by.is_licensed:
        cosigner = by.supervisor
        if cosigner is None or not cosigner.is_active or cosigner.practice_id != note.practice_id:
            raise DomainError(
                "Your notes need a supervisor's co-signature, and you have no active supervisor. "
                "Ask a practice admin to assign one."
            )
    _check_credential(by, credential)
    note.signed_at = timezone.now()
    note.status = ProgressNote.Status.AWAITING_COSIGN if cosigner else ProgressNote.Status.SIGNED
    note.cosigner = cosigner
    note.content_hash = note.compute_content_hash()
    note.save(update_fields=["status", "signed_at", "cosigner", "content_hash", "updated_at"])
    _risk_alerts_addressed(note)
    _charge_on_commit(note)
    return note


def _charge_on_commit(note: ProgressNote) -> None:
    """Billing (issue 6): a SIGNED note's charge is captured on commit (no re-entry)."""
    from billing.services_charges import note_signed_on_commit

    note_signed_on_commit(note)


def _risk_alerts_addressed(note: ProgressNote) -> None:
    """The signed note's risk assessment and safety plan answer the patient's pending alerts."""
    from assessments.selectors_alerts import risk_requirements_for_note

    if not (note.risk_ideation and note.risk_level and (note.risk_protective_factors or "").strip()):
        return
    for alert in risk_requirements_for_note(note):
        alert.addressed_by_note = note
        alert.save(update_fields=["addressed_by_note", "updated_at"])


def can_cosign(member: Membership, note: ProgressNote) -> bool:
    if note.status != ProgressNote.Status.AWAITING_COSIGN or member.pk == note.author_id or not member.is_active:
        return False
    if member.pk == note.cosigner_id:
        return True
    return member.has_perm(Perm.NOTE_COSIGN) and note.author.supervisor_id == member.pk


@transaction.atomic
def note_cosign(*, note: ProgressNote, by: Membership, credential: str) -> ProgressNote:
    """A supervisor co-signs a pre-licensed clinician's signed note; it is then complete."""
    _same_practice(by, note)
    note = _locked_note(note)
    if note.status != ProgressNote.Status.AWAITING_COSIGN:
        raise DomainError("This note is not waiting for a co-signature.", code="conflict")
    if not can_cosign(by, note):
        raise DomainError("Only the author's supervisor can co-sign this note.", code="forbidden")
    _check_credential(by, credential)
    note.status = ProgressNote.Status.SIGNED
    note.cosigner = by
    note.cosigned_at = timezone.now()
    note.save(update_fields=["status", "cosigner", "cosigned_at", "updated_at"])
    _charge_on_commit(note)
    return note


def can_add_addendum(member: Membership, note: ProgressNote) -> bool:
    if not member.is_active or not note.is_locked:
        return False
    if member.pk in (note.author_id, note.cosigner_id):
        return True
    return member.has_perm(Perm.NOTE_WRITE) and access.can_view_clinical(member, note.patient)


@transaction.atomic
def addendum_add(*, note: ProgressNote, by: Membership, reason: str, text: str) -> NoteAddendum:
    """Add a dated addendum (who, when, why, what) to a signed note."""
    _same_practice(by, note)
    note = ProgressNote.objects.select_for_update(of=("self",)).select_related("patient").get(pk=note.pk)
    if not note.is_locked:
        raise DomainError("This note is still a draft: edit it instead of adding an addendum.", code="conflict")
    if not can_add_addendum(by, note):
        raise DomainError("You cannot add an addendum to this note.", code="forbidden")
    reason, text = _text(reason).strip(), _text(text).strip()
    if not reason:
        raise DomainError("Say why you are adding this addendum.", field="reason")
    if len(reason) > 300:
        raise DomainError("Keep the reason under 300 characters.", field="reason")
    if not text:
        raise DomainError("Write the addendum.", field="text")
    return NoteAddendum.objects.create(practice_id=note.practice_id, note=note, author=by, reason=reason, text=text)


# --- Psychotherapy notes ---------------------------------------------------------------------


@transaction.atomic
def psychotherapy_note_save(
    *, author: Membership, patient: Patient, session_on: date, body: str, note: PsychotherapyNote | None = None
) -> PsychotherapyNote:
    """Create or edit the author's own psychotherapy note. Nobody else can, whatever their role."""
    _same_practice(author, patient, note)
    _require(author, Perm.NOTE_WRITE)
    body = _text(body).strip()
    if not body:
        raise DomainError("Write the note.", field="body")
    if session_on > timezone.localdate() + timedelta(days=1):
        raise DomainError("The session date cannot be in the future.", field="session_on")
    if note is None:
        if not access.can_view_clinical(author, patient):
            raise DomainError("Not found.", code="not_found")
        return PsychotherapyNote.objects.create(
            practice_id=author.practice_id, patient=patient, author=author, session_on=session_on, body=body
        )
    note = PsychotherapyNote.objects.select_for_update().get(pk=note.pk)
    if note.author_id != author.pk or note.patient_id != patient.pk:
        raise DomainError("Not found.", code="not_found")
    if (note.body, note.session_on) == (body, session_on):
        return note
    note.body, note.session_on = body, session_on
    note.save(update_fields=["body", "session_on", "updated_at"])
    return note


# --- Note templates --------------------------------------------------------------------------


def _clean_sections(sections: Any) -> list[dict]:
    if not isinstance(sections, list) or not sections:
        raise DomainError("A template needs at least one section.", field="sections")
    cleaned, seen = [], set()
    for i, section in enumerate(sections, start=1):
        if not isinstance(section, dict):
            raise DomainError(f"Section {i} is not valid.", field="sections")
        key = str(section.get("key", "")).strip()
        label = str(section.get("label", "")).strip()
        if not SECTION_KEY_RE.match(key):
            raise DomainError(
                f"Section {i}: the key must be lower-case letters, digits and underscores, starting with a letter.",
                field="sections",
            )
        if key in seen:
            raise DomainError(f"Section key “{key}” is used twice.", field="sections")
        if not label:
            raise DomainError(f"Section {i} needs a label.", field="sections")
        seen.add(key)
        cleaned.append(
            {
                "key": key,
                "label": label[:120],
                "help": str(section.get("help", "") or "").strip()[:300],
                "required": bool(section.get("required", False)),
            }
        )
    return cleaned


def _check_template_name(practice_id: int, name: str, *, exclude_pk: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError("Give the template a name.", field="name")
    if len(name) > 120:
        raise DomainError("Keep the name under 120 characters.", field="name")
    clash = NoteTemplate.objects.filter(practice_id=practice_id, name__iexact=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise DomainError("Another template already has that name.", field="name")
    return name


@transaction.atomic
def note_template_copy(*, template: NoteTemplate, by: Membership, name: str) -> NoteTemplate:
    """Copy a template (built-in or not) into a new, editable one."""
    _require(by, Perm.PRACTICE_MANAGE_SETTINGS)
    _same_practice(by, template)
    name = _check_template_name(by.practice_id, name)
    return NoteTemplate.objects.create(
        practice_id=by.practice_id,
        name=name,
        kind=template.kind,
        description=template.description,
        sections=[dict(s) for s in template.sections],
        includes_risk_assessment=template.includes_risk_assessment,
        default_service_code=template.default_service_code,
        is_active=True,
        based_on=template,
        is_builtin=False,
    )


@transaction.atomic
def note_template_update(
    *,
    template: NoteTemplate,
    by: Membership,
    name: str,
    sections: list[dict],
    includes_risk_assessment: bool,
    default_service_code: str,
    is_active: bool,
) -> NoteTemplate:
    """Change a practice's own template. Notes already written keep the sections they have."""
    _require(by, Perm.PRACTICE_MANAGE_SETTINGS)
    _same_practice(by, template)
    template = NoteTemplate.objects.select_for_update().get(pk=template.pk)
    if template.is_builtin:
        raise DomainError("Built-in templates cannot be edited; copy one and change the copy.", code="conflict")
    name = _check_template_name(by.practice_id, name, exclude_pk=template.pk)
    code = (default_service_code or "").strip().upper()
    if code:
        try:
            CPT_VALIDATOR(code)
        except ValidationError as exc:
            raise DomainError(exc.messages[0], field="default_service_code") from exc
    template.name = name
    template.sections = _clean_sections(sections)
    template.includes_risk_assessment = bool(includes_risk_assessment)
    template.default_service_code = code
    template.is_active = bool(is_active)
    template.save()
    return template
