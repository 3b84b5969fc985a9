"""Note routes (under /p/<practice_slug>/): the notes area's part of the clinical URL contract."""

from django.urls import path

from clinical.views import notes as v

urlpatterns = [
    path("patients/<uuid:patient_id>/notes/new/", v.note_create_view, name="note_create"),
    path("notes/<uuid:note_id>/", v.note_detail_view, name="note_detail"),
    path("notes/<uuid:note_id>/edit/", v.note_edit_view, name="note_edit"),
    path("notes/<uuid:note_id>/autosave/", v.note_autosave_view, name="note_autosave"),
    path("notes/<uuid:note_id>/sign/", v.note_sign_view, name="note_sign"),
    path("notes/<uuid:note_id>/cosign/", v.note_cosign_view, name="note_cosign"),
    path("notes/<uuid:note_id>/addenda/new/", v.note_addendum_view, name="note_addendum"),
    path("cosign/", v.cosign_queue_view, name="cosign_queue"),
    path("my-work/", v.my_work_view, name="my_work"),
    path("note-templates/", v.note_template_list_view, name="note_template_list"),
    path("note-templates/<uuid:template_id>/copy/", v.note_template_copy_view, name="note_template_copy"),
    path("note-templates/<uuid:template_id>/", v.note_template_edit_view, name="note_template_edit"),
    path(
        "patients/<uuid:patient_id>/psychotherapy-notes/",
        v.psychotherapy_note_list_view,
        name="psychotherapy_note_list",
    ),
    path(
        "patients/<uuid:patient_id>/psychotherapy-notes/new/",
        v.psychotherapy_note_create_view,
        name="psychotherapy_note_create",
    ),
    path(
        "psychotherapy-notes/<uuid:psychnote_id>/",
        v.psychotherapy_note_detail_view,
        name="psychotherapy_note_detail",
    ),
]
