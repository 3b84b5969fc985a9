from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation

from practice.models import AccessEvent, Location, Practice
from practice.permissions import Role


class LoginForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "spellcheck": "false"}
        ),
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
    )


class SetPasswordFields(forms.Form):
    password1 = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters. A passphrase of a few words works well.",
    )
    password2 = forms.CharField(
        label="Repeat password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict:
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords do not match.")
        elif p1:
            try:
                password_validation.validate_password(p1, self._user_for_validation())
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data

    def _user_for_validation(self):
        return None


class AcceptInvitationForm(SetPasswordFields):
    full_name = forms.CharField(
        label="Your full name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    field_order = ["full_name", "password1", "password2"]


class PasswordChangeForm(SetPasswordFields):
    current_password = forms.CharField(
        label="Current password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    field_order = ["current_password", "password1", "password2"]

    def __init__(self, user, *args, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_current_password(self) -> str:
        value = self.cleaned_data["current_password"]
        if not self.user.check_password(value):
            raise forms.ValidationError("Your current password is not right.")
        return value

    def _user_for_validation(self):
        return self.user


class ProfileForm(forms.Form):
    full_name = forms.CharField(max_length=200)


class PracticeSettingsForm(forms.ModelForm):
    class Meta:
        model = Practice
        fields = ["name", "timezone", "idle_timeout_minutes", "phone", "email"]


class LocationForm(forms.ModelForm):
    class Meta:
        model = Location
        fields = [
            "name",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "phone",
            "timezone",
            "place_of_service",
            "is_active",
        ]


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices)
    is_licensed = forms.BooleanField(
        required=False,
        initial=True,
        label="Licensed",
        help_text="Untick for a pre-licensed clinician whose notes need a supervisor's co-signature.",
    )

    def __init__(self, *args, assignable_roles=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(v, label) for v, label in Role.choices if v in assignable_roles]


class MembershipForm(forms.Form):
    """A member's role, licence status, supervisor and title (practice admin, staff page)."""

    role = forms.ChoiceField(choices=Role.choices)
    title = forms.CharField(max_length=60, required=False, help_text="Credentials shown on notes, e.g. LCSW or PsyD.")
    is_licensed = forms.BooleanField(
        required=False,
        label="Licensed",
        help_text="Untick for a pre-licensed clinician whose notes need a supervisor's co-signature.",
    )
    supervisor = forms.ModelChoiceField(
        queryset=None,
        required=False,
        to_field_name="public_id",
        empty_label="No supervisor",
        help_text="Required for a pre-licensed clinician. Only roles that can co-sign notes are listed.",
    )

    def __init__(self, *args, assignable_roles=(), supervisors=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(v, label) for v, label in Role.choices if v in assignable_roles]
        self.fields["supervisor"].queryset = supervisors
        self.fields["supervisor"].label_from_instance = _member_label


class AuditSearchForm(forms.Form):
    """Filters of the audit log page and its CSV export (GET parameters)."""

    member = forms.ModelChoiceField(
        queryset=None, required=False, to_field_name="public_id", label="User", empty_label="Anyone"
    )
    patient_id = forms.UUIDField(
        required=False,
        label="Patient ID",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "e.g. 3f2b…"}),
    )
    action = forms.ChoiceField(
        required=False, label="Access type", choices=[("", "Any access"), *AccessEvent.Action.choices]
    )
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, members=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members
        self.fields["member"].label_from_instance = _member_label

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date is before the start date.")
        return data


def _member_label(membership) -> str:
    label = membership.user.display_name
    if membership.title:
        label += f", {membership.title}"
    if not membership.is_active:
        label += " (deactivated)"
    return label


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, initial="API token", help_text="What will use it, e.g. 'outcomes export script'."
    )
    practice = forms.ChoiceField(help_text="A token acts as you in this one practice, with your role there.")

    def __init__(self, *args, memberships=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["practice"].choices = [(m.practice.slug, m.practice.name) for m in memberships]
