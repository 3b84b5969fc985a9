"""Forms of the CSV import: the upload, and the column mapping built from the file's headers."""

from __future__ import annotations

from django import forms

from integrations.csv_import import COLUMNS
from integrations.models import ImportJob


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label="What the file contains", choices=ImportJob.Kind.choices)
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV (Excel: 'CSV UTF-8'); commas, semicolons or tabs. The first line names the columns.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )


class ImportMappingForm(forms.Form):
    """One choice per field of the kind: which of the file's columns holds it (or none)."""

    def __init__(self, *args, job: ImportJob, **kwargs) -> None:
        initial = {f"map_{field}": column for field, column in job.mapping.items()}
        super().__init__(*args, initial=initial, **kwargs)
        choices = [("", "— not in this file —"), *[(h, h) for h in job.headers if h]]
        for column in COLUMNS[job.kind]:
            self.fields[f"map_{column.name}"] = forms.ChoiceField(
                label=column.label,
                choices=choices,
                required=column.required,
                help_text=column.help,
                error_messages={"required": f"{column.label} is required: choose the column that holds it."},
            )

    def mapping(self) -> dict[str, str]:
        return {name.removeprefix("map_"): value for name, value in self.cleaned_data.items() if value}
