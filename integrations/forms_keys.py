"""Form of the API keys page: name, scopes (read/write per domain), rate limit."""

from __future__ import annotations

from django import forms

from integrations.api_keys import ACCESS, DOMAINS, RATE_LIMIT_MAX, SCOPES


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses the key, e.g. “Outcomes warehouse”. Shown in the list and the audit log."
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in SCOPES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
    )
    rate_limit_per_minute = forms.IntegerField(
        label="Rate limit (requests a minute)", min_value=1, max_value=RATE_LIMIT_MAX, initial=120
    )

    def scope_rows(self) -> list[dict]:
        """One row per domain with its read and write checkboxes, for the scope table."""
        chosen = set(self["scopes"].value() or [])
        return [
            {
                "domain": domain,
                "label": label,
                "boxes": [
                    {"value": f"{domain}:{access}", "access": access, "checked": f"{domain}:{access}" in chosen}
                    for access in ACCESS
                ],
            }
            for domain, label in DOMAINS
        ]
