"""Note pages: start a note, the editor (autosaving drafts), sign, co-sign, addenda, the co-sign
queue, "My work", note templates, and psychotherapy notes (author only).

Thin views: parse a form, call one service or selector, render. Notes are looked up by public_id
in the practice scope (another practice's note is a 404) and then checked against the caseload
(outside it: break-the-glass where the member may, else 404). Reading a note writes an access event.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinical import access
from clinical.forms_notes import (
    CPT_DESCRIPTIONS,
    AddendumForm,
    CredentialForm,
    NoteEditorForm,
    NoteStartForm,
    PsychotherapyNoteForm,
    SectionFormSet,
    TemplateCopyForm,
    TemplateSettingsForm,
)
from clinical.models import NoteTemplate, Patient, ProgressNote, PsychotherapyNote
from clinical.selectors import notes as selectors
from clinical.services import notes as services
from clinical.views.base import patient_view
from practice.audit import access_record
from practice.errors import DomainError
from practice.permissions import Perm
from practice.views.base import practice_view

# Reading a note: the clinical roles, and admins through break-the-glass (the caseload check
# below decides which notes). Front desk and billers never read note content.
NOTE_READ = Perm.CHART_BREAK_GLASS


# --- Helpers ---------------------------------------------------------------------------------


def _show_error(form: forms.Form, exc: DomainError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def _raise_for(exc: DomainError) -> None:
    """Refusals about *who* become 403/404; rule violations are shown to the user."""
    if exc.code == "forbidden":
        raise PermissionDenied(exc.message)
    if exc.code == "not_found":
        raise Http404("Not found.")


def _outside_caseload(request: HttpRequest, patient: Patient) -> HttpResponse:
    if access.can_break_glass(request.membership, patient):
        try:
            url = reverse(
                "patient_break_glass", kwargs={"practice_slug": request.practice.slug, "patient_id": patient.public_id}
            )
        except NoReverseMatch:
            url = None
        if url:
            return redirect(url)
    raise Http404("No such note.")


def _load_note(request: HttpRequest, note_id: Any) -> ProgressNote | HttpResponse:
    try:
        note = selectors.note_get(note_id=note_id)
    except ProgressNote.DoesNotExist as exc:
        raise Http404("No such note.") from exc
    if not access.can_view_clinical(request.membership, note.patient):
        return _outside_caseload(request, note.patient)
    return note


def _chart_url(request: HttpRequest, patient: Patient) -> str | None:
    try:
        return reverse(
            "patient_chart", kwargs={"practice_slug": request.practice.slug, "patient_id": patient.public_id}
        )
    except NoReverseMatch:
        return None


def _note_context(request: HttpRequest, note: ProgressNote) -> dict[str, Any]:
    return {
        "note": note,
        "patient": note.patient,
        "chart_url": _chart_url(request, note.patient),
        "cpt_description": CPT_DESCRIPTIONS.get(note.service_code, ""),
        "is_author": note.author_id == request.membership.pk,
    }


# --- Start a note ----------------------------------------------------------------------------


@patient_view(Perm.NOTE_WRITE, clinical=True)
def note_create_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = NoteStartForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            note = services.note_create(
                author=request.membership,
                patient=patient,
                template=form.cleaned_data["template"],
                session_on=form.cleaned_data["session_on"],
            )
        except DomainError as exc:
            _raise_for(exc)
            _show_error(form, exc)
        else:
            return redirect("note_edit", practice_slug=request.practice.slug, note_id=note.public_id)
    return render(
        request,
        "clinical/notes/note_start.html",
        {"form": form, "patient": patient, "chart_url": _chart_url(request, patient)},
    )


# --- The editor ------------------------------------------------------------------------------


def _render_editor(
    request: HttpRequest,
    note: ProgressNote,
    form: NoteEditorForm | None = None,
    sign_form: CredentialForm | None = None,
    status: int = 200,
) -> HttpResponse:
    form = form or NoteEditorForm(template=note.template, note=note)
    context = _note_context(request, note) | {
        "form": form,
        "sign_form": sign_form or CredentialForm(),
        "missing": services.missing_for_signature(note),
        "needs_cosign": not request.membership.is_licensed,
        "supervisor": request.membership.supervisor,
        "cpt_descriptions": CPT_DESCRIPTIONS,
    }
    return render(request, "clinical/notes/note_edit.html", context, status=status)


def _editable(request: HttpRequest, note: ProgressNote) -> HttpResponse | None:
    """A redirect to the note's page when this member cannot edit it (signed, or not theirs)."""
    if note.is_locked:
        messages.info(request, services.SIGNED_NOTE_MESSAGE)
    elif note.author_id != request.membership.pk:
        messages.info(request, "Only the note's author can edit a draft.")
    else:
        return None
    return redirect("note_detail", practice_slug=request.practice.slug, note_id=note.public_id)


@practice_view(Perm.NOTE_WRITE)
def note_edit_view(request: HttpRequest, note_id) -> HttpResponse:
    note = _load_note(request, note_id)
    if isinstance(note, HttpResponse):
        return note
    if (response := _editable(request, note)) is not None:
        return response
    access_record(request=request, action="view", target=note)
    if request.method != "POST":
        return _render_editor(request, note)
    form = NoteEditorForm(request.POST, template=note.template, note=note)
    if form.is_valid():
        try:
            note, changed = services.note_update_draft(
                note=note, by=request.membership, fields=form.fields_for_service()
            )
        except DomainError as exc:
            _raise_for(exc)
            _show_error(form, exc)
        else:
            messages.success(request, "Draft saved." if changed else "No changes to save.")
            return redirect("note_edit", practice_slug=request.practice.slug, note_id=note.public_id)
    return _render_editor(request, note, form=form, status=400)


def _autosave_status(request: HttpRequest, state: str, text: str, status: int = 200) -> HttpResponse:
    return render(request, "clinical/notes/_autosave_status.html", {"state": state, "text": text}, status=status)


@require_POST
@practice_view(Perm.NOTE_WRITE)
def note_autosave_view(request: HttpRequest, note_id) -> HttpResponse:
    """htmx: save the editor's current state; answers a small status fragment."""
    note = _load_note(request, note_id)
    if isinstance(note, HttpResponse):
        return note
    if note.is_locked:
        return _autosave_status(request, "error", "This note is signed; changes are not saved. Add an addendum.", 409)
    if note.author_id != request.membership.pk:
        return _autosave_status(request, "error", "Only the note's author can edit it.", 403)
    form = NoteEditorForm(request.POST, template=note.template, note=note)
    if not form.is_valid():
        errors = "; ".join(
            f"{form.fields[f].label if f in form.fields else ''}: {e[0]}" for f, e in form.errors.items()
        )
        return _autosave_status(request, "invalid", f"Not saved — {errors.lstrip(': ')}")
    try:
        note, changed = services.note_update_draft(note=note, by=request.membership, fields=form.fields_for_service())
    except DomainError as exc:
        if exc.code == "signed":
            return _autosave_status(request, "error", exc.message, 409)
        _raise_for(exc)
        return _autosave_status(request, "invalid", f"Not saved — {exc.message}")
    saved_at = timezone.localtime(note.updated_at).strftime("%H:%M")
    if changed:
        return _autosave_status(request, "saved", f"Saved {saved_at}")
    return _autosave_status(request, "unchanged", f"No changes since {saved_at}")


def _already_signed(request: HttpRequest, note: ProgressNote) -> HttpResponse:
    """The note was signed (another tab or device won): say by whom and when, show the signed note."""
    note = selectors.note_get(note_id=note.public_id)
    author = note.author.user.display_name + (f", {note.author.title}" if note.author.title else "")
    when = timezone.localtime(note.signed_at)
    messages.error(
        request,
        f"This note was already signed by {author} on {when:%b} {when.day}, {when.year} at "
        f"{when.strftime('%I:%M %p').lstrip('0')}. What you had open was not saved or signed; "
        "add an addendum for anything to correct.",
    )
    return redirect("note_detail", practice_slug=request.practice.slug, note_id=note.public_id)


@require_POST
@practice_view(Perm.NOTE_WRITE)
def note_sign_view(request: HttpRequest, note_id) -> HttpResponse:
    """Sign. When posted from the editor, the editor's latest text is saved first."""
    note = _load_note(request, note_id)
    if isinstance(note, HttpResponse):
        return note
    if note.is_locked:
        return _already_signed(request, note)
    if (response := _editable(request, note)) is not None:
        return response
    form = None
    if "session_on" in request.POST:  # the whole editor came along: save it before signing
        form = NoteEditorForm(request.POST, template=note.template, note=note)
        if not form.is_valid():
            return _render_editor(request, note, form=form, status=400)
        try:
            note, _changed = services.note_update_draft(
                note=note, by=request.membership, fields=form.fields_for_service()
            )
        except DomainError as exc:
            if exc.code == "signed":  # signed on another tab or device a moment ago
                return _already_signed(request, note)
            _raise_for(exc)
            _show_error(form, exc)
            return _render_editor(request, note, form=form, status=400)
    sign_form = CredentialForm(request.POST)
    if sign_form.is_valid():
        try:
            note = services.note_sign(
                note=note,
                by=request.membership,
                credential=sign_form.cleaned_data["credential"],
                # the text just saved is what this signer saw; another device's save in between refuses
                expected_revision=note.revision if form is not None else None,
            )
        except DomainError as exc:
            if exc.code == "signed":
                return _already_signed(request, note)
            _raise_for(exc)
            sign_form.add_error("credential", exc.message)
        else:
            if note.status == ProgressNote.Status.AWAITING_COSIGN:
                messages.success(
                    request, f"Signed. The note now waits for {note.cosigner.user.display_name}'s co-signature."
                )
            else:
                messages.success(request, "Note signed.")
            return redirect("note_detail", practice_slug=request.practice.slug, note_id=note.public_id)
    fresh = selectors.note_get(note_id=note.public_id)
    editor = NoteEditorForm(template=fresh.template, note=fresh) if form is None or form.errors else form
    return _render_editor(request, fresh, form=editor, sign_form=sign_form, status=400)


# --- Reading, co-signing, addenda ------------------------------------------------------------


def _render_detail(
    request: HttpRequest,
    note: ProgressNote,
    *,
    cosign_form: CredentialForm | None = None,
    addendum_form: AddendumForm | None = None,
    status: int = 200,
) -> HttpResponse:
    access_record(request=request, action="view", target=note)
    me = request.membership
    context = _note_context(request, note) | {
        "sections": [
            {"label": s["label"], "text": (note.content or {}).get(s["key"], "")} for s in note.template.sections
        ],
        "addenda": note.addenda.all(),
        "can_cosign": services.can_cosign(me, note),
        "can_add_addendum": note.is_locked and me.has_perm(Perm.NOTE_WRITE) and services.can_add_addendum(me, note),
        "cosign_form": cosign_form or CredentialForm(),
        "addendum_form": addendum_form or AddendumForm(),
    }
    return render(request, "clinical/notes/note_detail.html", context, status=status)


@practice_view(NOTE_READ)
def note_detail_view(request: HttpRequest, note_id) -> HttpResponse:
    note = _load_note(request, note_id)
    if isinstance(note, HttpResponse):
        return note
    return _render_detail(request, note)


@require_POST
@practice_view(Perm.NOTE_COSIGN)
def note_cosign_view(request: HttpRequest, note_id) -> HttpResponse:
    note = _load_note(request, note_id)
    if isinstance(note, HttpResponse):
        return note
    form = CredentialForm(request.POST)
    if note.status != ProgressNote.Status.AWAITING_COSIGN:
        messages.info(request, "This note is not waiting for a co-signature.")
        return redirect("note_detail", practice_slug=request.practice.slug, note_id=note.public_id)
    if form.is_valid():
        try:
            services.note_cosign(note=note, by=request.membership, credential=form.cleaned_data["credential"])
        except DomainError as exc:
            _raise_for(exc)
            form.add_error("credential", exc.message)
        else:
            messages.success(request, "Co-signed. The note is complete.")
            return redirect("note_detail", practice_slug=request.practice.slug, note_id=note.public_id)
    return _render_detail(request, note, cosign_form=form, status=400)


@practice_view(Perm.NOTE_WRITE)
def note_addendum_view(request: HttpRequest, note_id) -> HttpResponse:
    note = _load_note(request, note_id)
    if isinstance(note, HttpResponse):
        return note
    detail = reverse("note_detail", kwargs={"practice_slug": request.practice.slug, "note_id": note.public_id})
    if not note.is_locked:
        messages.info(request, "This note is still a draft: edit it instead of adding an addendum.")
        return redirect(detail)
    if request.method != "POST":
        return redirect(f"{detail}#add-addendum")
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            services.addendum_add(note=note, by=request.membership, **form.cleaned_data)
        except DomainError as exc:
            _raise_for(exc)
            _show_error(form, exc)
        else:
            messages.success(request, "Addendum added.")
            return redirect(f"{detail}#addenda")
    return _render_detail(request, note, addendum_form=form, status=400)


# --- Work lists ------------------------------------------------------------------------------


@practice_view(Perm.NOTE_COSIGN)
def cosign_queue_view(request: HttpRequest) -> HttpResponse:
    notes = list(selectors.cosign_queue(request.membership))
    access_record(request=request, action="list", object_type="clinical.progressnote", object_id="cosign-queue")
    return render(request, "clinical/notes/cosign_queue.html", {"notes": notes})


@practice_view(Perm.NOTE_WRITE)
def my_work_view(request: HttpRequest) -> HttpResponse:
    work = selectors.outstanding_work(request.membership)
    access_record(request=request, action="list", object_type="clinical.progressnote", object_id="my-work")
    return render(request, "clinical/notes/my_work.html", {"work": work})


# --- Note templates --------------------------------------------------------------------------


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def note_template_list_view(request: HttpRequest) -> HttpResponse:
    return render(request, "clinical/notes/template_list.html", {"templates": selectors.note_template_list()})


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def note_template_copy_view(request: HttpRequest, template_id) -> HttpResponse:
    template = get_object_or_404(NoteTemplate.objects.all(), public_id=template_id)
    form = TemplateCopyForm(
        request.POST if request.method == "POST" else None, initial={"name": f"{template.name} (copy)"}
    )
    if request.method == "POST" and form.is_valid():
        try:
            copy = services.note_template_copy(template=template, by=request.membership, name=form.cleaned_data["name"])
        except DomainError as exc:
            _raise_for(exc)
            _show_error(form, exc)
        else:
            messages.success(request, "Template copied. Change its sections below.")
            return redirect("note_template_edit", practice_slug=request.practice.slug, template_id=copy.public_id)
    return render(request, "clinical/notes/template_copy.html", {"template": template, "form": form})


def _section_initial(template: NoteTemplate) -> list[dict]:
    return [
        {
            "key": s["key"],
            "label": s["label"],
            "help": s.get("help", ""),
            "required": s.get("required", False),
            "ORDER": i,
        }
        for i, s in enumerate(template.sections, start=1)
    ]


def _sections_from(formset) -> list[dict]:
    rows = []
    for form in formset.ordered_forms if formset.can_order else formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE") or not (data.get("key") or data.get("label")):
            continue
        rows.append({k: data.get(k) for k in ("key", "label", "help", "required")})
    return rows


@practice_view(Perm.PRACTICE_MANAGE_SETTINGS)
def note_template_edit_view(request: HttpRequest, template_id) -> HttpResponse:
    template = get_object_or_404(NoteTemplate.objects.select_related("based_on"), public_id=template_id)
    post = request.POST if request.method == "POST" and not template.is_builtin else None
    form = TemplateSettingsForm(
        post,
        current_code=template.default_service_code,
        initial={
            "name": template.name,
            "default_service_code": template.default_service_code,
            "includes_risk_assessment": template.includes_risk_assessment,
            "is_active": template.is_active,
        },
    )
    formset = SectionFormSet(post, initial=_section_initial(template), prefix="sections")
    if request.method == "POST" and template.is_builtin:
        messages.error(request, "Built-in templates cannot be edited; copy one and change the copy.")
        return redirect("note_template_edit", practice_slug=request.practice.slug, template_id=template.public_id)
    if post is not None and form.is_valid() and formset.is_valid():
        try:
            services.note_template_update(
                template=template, by=request.membership, sections=_sections_from(formset), **form.cleaned_data
            )
        except DomainError as exc:
            _raise_for(exc)
            _show_error(form, exc)
        else:
            messages.success(request, "Template saved.")
            return redirect("note_template_edit", practice_slug=request.practice.slug, template_id=template.public_id)
    return render(
        request,
        "clinical/notes/template_edit.html",
        {"template": template, "form": form, "formset": formset},
        status=400 if post is not None else 200,
    )


# --- Psychotherapy notes (author only) -------------------------------------------------------


@patient_view(Perm.NOTE_WRITE, clinical=True)
def psychotherapy_note_list_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    notes = list(selectors.psychotherapy_notes_of(author=request.membership, patient=patient))
    access_record(
        request=request, action="list", object_type="clinical.psychotherapynote", patient_id=patient.public_id
    )
    return render(
        request,
        "clinical/notes/psychnote_list.html",
        {"patient": patient, "notes": notes, "chart_url": _chart_url(request, patient)},
    )


@patient_view(Perm.NOTE_WRITE, clinical=True)
def psychotherapy_note_create_view(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = PsychotherapyNoteForm(
        request.POST if request.method == "POST" else None, initial={"session_on": timezone.localdate()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            note = services.psychotherapy_note_save(author=request.membership, patient=patient, **form.cleaned_data)
        except DomainError as exc:
            _raise_for(exc)
            _show_error(form, exc)
        else:
            messages.success(request, "Psychotherapy note saved.")
            return redirect(
                "psychotherapy_note_detail", practice_slug=request.practice.slug, psychnote_id=note.public_id
            )
    return render(
        request,
        "clinical/notes/psychnote_form.html",
        {"patient": patient, "form": form, "chart_url": _chart_url(request, patient)},
    )


# Author only: everyone else gets 404 whatever their role, so the page asks only for membership.
@practice_view(Perm.PRACTICE_VIEW_DASHBOARD)
def psychotherapy_note_detail_view(request: HttpRequest, psychnote_id) -> HttpResponse:
    try:
        note = selectors.psychotherapy_note_get(author=request.membership, psychnote_id=psychnote_id)
    except PsychotherapyNote.DoesNotExist as exc:
        raise Http404("No such note.") from exc
    access_record(request=request, action="view", target=note)
    form = PsychotherapyNoteForm(
        request.POST if request.method == "POST" else None,
        initial={"session_on": note.session_on, "body": note.body},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.psychotherapy_note_save(
                author=request.membership, patient=note.patient, note=note, **form.cleaned_data
            )
        except DomainError as exc:
            _raise_for(exc)
            _show_error(form, exc)
        else:
            messages.success(request, "Psychotherapy note saved.")
            return redirect(
                "psychotherapy_note_detail", practice_slug=request.practice.slug, psychnote_id=note.public_id
            )
    return render(
        request,
        "clinical/notes/psychnote_detail.html",
        {"note": note, "patient": note.patient, "form": form, "chart_url": _chart_url(request, note.patient)},
    )
