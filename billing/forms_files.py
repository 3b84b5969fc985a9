"""The inbound X12 upload form (999, 277CA, 835, 271 received outside the clearinghouse sync)."""

from __future__ import annotations

from django import forms

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class InboundFileUploadForm(forms.Form):
    file = forms.FileField(label="X12 file", help_text="A 999, 277CA, 835 or 271 file from the clearinghouse or payer.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 20 MB.")
        raw = upload.read()
        if not raw.lstrip().startswith(b"ISA"):
            raise forms.ValidationError("This is not an X12 file: it must start with an ISA segment.")
        self.cleaned_data["content"] = raw
        return upload
