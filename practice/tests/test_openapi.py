"""The OpenAPI schema generates cleanly: no warnings (they fail `check --deploy` in CI too)."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=StringIO())
    text = out.read_text()
    assert "/api/v1/notes/{public_id}/sign/" in text
    assert "/psychotherapy" not in text  # no endpoint for psychotherapy notes
