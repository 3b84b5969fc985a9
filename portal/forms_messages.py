"""Forms for portal messaging. They parse input; the rules (length, attachments) live in
portal.services_messages, whose DomainErrors the views put back on these forms."""

from __future__ import annotations

from django import forms

from portal.services_messages import MAX_ATTACHMENTS, MAX_BODY_CHARS, MAX_SUBJECT_CHARS

ACCEPT = "application/pdf,image/png,image/jpeg,image/heic,.pdf,.png,.jpg,.jpeg,.heic"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


def _attachments_field() -> MultipleFileField:
    return MultipleFileField(
        required=False,
        label="Attachments",
        help_text=f"Up to {MAX_ATTACHMENTS} files: PDF, PNG, JPEG or HEIC.",
        widget=MultipleFileInput(attrs={"accept": ACCEPT, "multiple": True}),
    )


class MessageForm(forms.Form):
    body = forms.CharField(label="Message", max_length=MAX_BODY_CHARS, widget=forms.Textarea(attrs={"rows": 6}))
    attachments = _attachments_field()


class NewThreadForm(MessageForm):
    subject = forms.CharField(label="Subject", max_length=MAX_SUBJECT_CHARS)
    field_order = ["subject", "body", "attachments"]


class AssignForm(forms.Form):
    assigned_to = forms.ChoiceField(label="Assigned to", required=False)

    def __init__(self, *args, members=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].choices = [("", "Unassigned")] + [
            (str(m.public_id), m.user.display_name) for m in members
        ]


class MessagingSwitchForm(forms.Form):
    is_enabled = forms.TypedChoiceField(
        label="Portal messaging",
        choices=[("1", "On"), ("0", "Off")],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label="Reason", max_length=300)
