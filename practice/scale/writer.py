"""Bulk row writer for the scale seed: COPY on PostgreSQL, executemany INSERT elsewhere (SQLite tests).

Rows are tuples in a given column order; ids are assigned here (one counter per table, from the
table's current maximum), so rows of one phase can point at each other before anything is written.
No model instances, no signals, no per-row audit: the caller writes one audit entry per phase.
"""

from __future__ import annotations

import csv
import io
import json
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models

from practice.scoping import PracticeScopedModel

FLUSH_ROWS = 20_000


def _pg_text(value: Any) -> Any:
    """A value as PostgreSQL's CSV COPY reads it (None is the NULL marker)."""
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value  # str, int, Decimal, date, UUID: csv writes str(value)


class BulkWriter:
    """Writes one practice's rows. `ids(model, n)` hands out primary keys; `write` stores rows."""

    def __init__(self, *, practice_id: int, now: datetime, rng: random.Random) -> None:
        self.practice_id = practice_id
        self.now = now
        self.rng = rng
        self.is_postgres = connection.vendor == "postgresql"
        self._next: dict[type[models.Model], int] = {}
        self.counts: dict[str, int] = {}
        self.db_seconds: dict[str, float] = {}  # time spent in COPY / INSERT per table

    def ids(self, model: type[models.Model], n: int) -> range:
        if model not in self._next:
            top = model._base_manager.aggregate(top=models.Max("pk"))["top"] or 0
            self._next[model] = top + 1
        start = self._next[model]
        self._next[model] = start + n
        return range(start, start + n)

    def next_id(self, model: type[models.Model]) -> int:
        return self.ids(model, 1)[0]

    def public_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def write(self, model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Insert rows (tuples in `columns` order, "id" first). Scoped models get practice_id,
        public_id, and created_at/updated_at (now, unless `columns` has created_at) added here."""
        columns = list(columns)
        extra: list[str] = []
        scoped = issubclass(model, PracticeScopedModel)
        if scoped:
            extra = ["practice_id", "public_id"]
            if "created_at" not in columns:
                extra.append("created_at")
            if "updated_at" not in columns:
                extra.append("updated_at")
        all_columns = columns + extra
        created_at_index = columns.index("created_at") if "created_at" in columns else None

        def complete(row: Sequence[Any]) -> tuple:
            if not scoped:
                return tuple(row)
            tail: list[Any] = [self.practice_id, self.public_id()]
            if "created_at" in extra:
                tail.append(self.now)
            if "updated_at" in extra:
                tail.append(row[created_at_index] if created_at_index is not None else self.now)
            return (*row, *tail)

        written = 0
        batch: list[tuple] = []
        for row in rows:
            batch.append(complete(row))
            if len(batch) >= FLUSH_ROWS:
                self._flush(model, all_columns, batch)
                written += len(batch)
                batch = []
        if batch:
            self._flush(model, all_columns, batch)
            written += len(batch)
        label = model._meta.label
        self.counts[label] = self.counts.get(label, 0) + written
        return written

    def _flush(self, model: type[models.Model], columns: list[str], rows: list[tuple]) -> None:
        table = model._meta.db_table
        started = time.perf_counter()
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            if self.is_postgres:
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
                for row in rows:
                    writer.writerow([_pg_text(v) for v in row])
                buffer.seek(0)
                # The rows' foreign keys were assigned here from ids written in the same build, so
                # the per-row RI triggers (deferred to commit: millions of queued events) are
                # skipped for the COPY; unique and exclusion constraints still apply. The SQLite
                # tests check every foreign key of a small build.
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.copy_expert(
                    f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                    buffer,
                )
                cursor.execute("SET LOCAL session_replication_role = origin")
            else:
                fields = [_field(model, c) for c in columns]
                prepped = [
                    tuple(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)) for row in rows
                ]
                marks = ", ".join(["%s"] * len(columns))
                sql = f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})"  # noqa: S608
                cursor.executemany(sql, prepped)  # names come from the models, values are parameters

        label = model._meta.label
        self.db_seconds[label] = self.db_seconds.get(label, 0.0) + time.perf_counter() - started

    def reset_sequences(self) -> None:
        """Point each table's id sequence past the ids written here (PostgreSQL only)."""
        if not self.is_postgres or not self._next:
            return
        from django.core.management.color import no_style

        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(self._next)):
                cursor.execute(sql)


def _field(model: type[models.Model], column: str) -> models.Field:
    return next(f for f in model._meta.concrete_fields if f.column == column)


def money_str(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


__all__ = ["BulkWriter", "date", "money_str"]
