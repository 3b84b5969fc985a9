"""PostgreSQL-only indexes built by migrations without locking the table (issue 10).

The scale indexes are partial, INCLUDE, expression or pg_trgm GIN indexes that SQLite cannot build and
does not need, and they go on tables with millions of rows, so they are built with
`CREATE INDEX CONCURRENTLY` (writes carry on while the index builds). A migration using
`concurrent_indexes` must set `atomic = False`: PostgreSQL refuses CONCURRENTLY inside a transaction.

They live in the migrations, not in `Meta.indexes`: the model state (and `makemigrations --check`)
stays database-neutral. `INDEXES` of each migration is the list the tests check on PostgreSQL.
"""

from __future__ import annotations

from django.db import migrations


def _create(indexes: dict[str, str]):
    def forwards(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            for name, definition in indexes.items():
                # A CONCURRENTLY build that failed half-way leaves an INVALID index behind, which
                # IF NOT EXISTS would then keep: drop it first so a re-run builds it again.
                cursor.execute(
                    "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE c.relname = %s AND NOT i.indisvalid",
                    [name],
                )
                if cursor.fetchone():
                    cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
                cursor.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" {definition}')

    return forwards


def _drop(indexes: dict[str, str]):
    def backwards(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            for name in indexes:
                cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')

    return backwards


def concurrent_indexes(indexes: dict[str, str]) -> migrations.RunPython:
    """A RunPython building `{name: "ON table USING ... (...) [WHERE ...]"}` on PostgreSQL only."""
    return migrations.RunPython(_create(indexes), _drop(indexes), elidable=False)


def trigram_extension() -> migrations.RunPython:
    """pg_trgm on PostgreSQL (for `icontains` searches served by a GIN index); nothing on SQLite."""

    def forwards(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    return migrations.RunPython(forwards, migrations.RunPython.noop)
