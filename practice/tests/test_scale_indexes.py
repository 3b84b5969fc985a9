"""The scale indexes (issue 10): built on PostgreSQL, valid, and nothing on SQLite."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

pytestmark = pytest.mark.django_db

MIGRATIONS = (
    ("assessments", "0002_scale_indexes"),
    ("billing", "0003_scale_indexes"),
    ("billing", "0005_ar_aging_rollup"),
    ("billing", "0006_ar_aging_cell_kinds"),
    ("clinical", "0005_scale_indexes"),
    ("scheduling", "0003_scale_indexes"),
)


def _indexes() -> dict[str, str]:
    found: dict[str, str] = {}
    for app, name in MIGRATIONS:
        found.update(getattr(import_module(f"{app}.migrations.{name}"), "INDEXES", {}))
    return found


def test_the_index_migrations_are_applied():
    applied = MigrationRecorder(connection).applied_migrations()
    assert set(MIGRATIONS) <= set(applied)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the scale indexes exist on PostgreSQL only")
def test_every_scale_index_exists_and_is_valid_on_postgresql():
    names = list(_indexes())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = ANY(%s)",
            [names],
        )
        built = dict(cursor.fetchall())
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        has_trigram = cursor.fetchone() is not None
    assert built == dict.fromkeys(names, True)
    assert has_trigram


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite side of the migrations")
def test_no_scale_index_is_built_on_sqlite():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        existing = {row[0] for row in cursor.fetchall()}
    assert not set(_indexes()) & existing
