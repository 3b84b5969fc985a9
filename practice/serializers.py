"""API input and output shapes for practices, staff and tokens. Parse and render only: no saves."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from practice.models import ApiToken, Location, Membership
from practice.permissions import Perm, Role

# --- Input -----------------------------------------------------------------------------------


class TokenObtainIn(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    practice = serializers.SlugField(help_text="The practice's slug, as in /p/<slug>/.")
    otp = serializers.CharField(
        required=False, allow_blank=True, help_text="A code from the authenticator app, or a recovery code."
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text="A label for the token.")


class LocationFilterIn(serializers.Serializer):
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)


class MemberFilterIn(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)


# --- Output ----------------------------------------------------------------------------------


class TokenIssuedOut(serializers.Serializer):
    token = serializers.CharField(help_text="The raw token. Shown once: only its hash is stored.")
    token_id = serializers.UUIDField()
    practice = serializers.SlugField()
    role = serializers.ChoiceField(choices=Role.choices)
    expires_at = serializers.DateTimeField()


class ApiTokenOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "key_prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
        read_only_fields = fields


class LocationOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    timezone = serializers.CharField(read_only=True)

    class Meta:
        model = Location
        fields = [
            "id",
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
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MemberUserOut(serializers.Serializer):
    email = serializers.EmailField(read_only=True)
    full_name = serializers.CharField(read_only=True)


class MemberOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    user = MemberUserOut(read_only=True)
    supervisor = serializers.UUIDField(
        source="supervisor.public_id", read_only=True, allow_null=True, help_text="The supervisor's membership id."
    )

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "is_active", "is_licensed", "supervisor", "title"]
        read_only_fields = fields


class MeUserOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    email = serializers.EmailField()
    full_name = serializers.CharField()


class MePracticeOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    slug = serializers.SlugField()
    name = serializers.CharField()
    timezone = serializers.CharField()


class MeMembershipOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    role = serializers.ChoiceField(choices=Role.choices)
    is_licensed = serializers.BooleanField()
    permissions = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_permissions(self, membership: Membership) -> list[str]:
        return sorted(perm.value for perm in Perm if membership.has_perm(perm))


class MeOut(serializers.Serializer):
    user = MeUserOut()
    practice = MePracticeOut()
    membership = MeMembershipOut()
    auth = serializers.ChoiceField(choices=["token", "api_key", "session"])


class ErrorBodyOut(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ErrorOut(serializers.Serializer):
    """The one error shape of the API (see practice/api_errors.py)."""

    error = ErrorBodyOut()
