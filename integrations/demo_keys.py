"""Demo data: one read-only API key, so the API keys page is not empty in the demo.

Its raw value is thrown away (never printed or stored): the demo shows a key's list entry, not a
usable secret. Create a key on the page to try the API.
"""

from __future__ import annotations

from integrations.api_keys import SCOPES, api_key_create
from integrations.models import ApiKey
from practice.models import Membership, Practice

DEMO_KEY_NAME = "Outcomes warehouse (read-only)"


def seed_api_keys(practice: Practice, by: Membership) -> ApiKey:
    """Idempotent: the practice's demo key, created once by ``by`` (an owner or admin)."""
    existing = ApiKey.all_objects.filter(practice=practice, name=DEMO_KEY_NAME).first()
    if existing is not None:
        return existing
    key, _raw = api_key_create(
        by=by, name=DEMO_KEY_NAME, scopes=[s for s in SCOPES if s.endswith(":read")], rate_limit_per_minute=60
    )
    return key
