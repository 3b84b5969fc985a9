"""Indexes for the note lists and the diagnosis-code search on the scale data set (issue 10; plans in
benchmarks/RESULTS.md).

- notes newest session first across patients (the REST list sorted every note per page);
- unsigned notes only (drafts and notes awaiting a co-signature): the admin home's documentation
  backlog counts them practice-wide; a partial index stays small however many signed notes pile up;
- ICD-10-CM descriptions by trigram: the code search matches words anywhere (`icontains`, which is
  `UPPER(description) LIKE UPPER('%word%')`), which no b-tree serves.
"""

from django.db import migrations

from practice.db_indexes import concurrent_indexes, trigram_extension

INDEXES = {
    "note_practice_session": "ON clinical_progressnote (practice_id, session_on, id)",
    "note_practice_unsigned": (
        "ON clinical_progressnote (practice_id, status, session_on) WHERE status IN ('draft', 'awaiting_cosign')"
    ),
    "diagnosiscode_description_trgm": "ON clinical_diagnosiscode USING gin (UPPER(description::text) gin_trgm_ops)",
}


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY
    dependencies = [("clinical", "0004_patient_name_prefix_indexes")]
    operations = [trigram_extension(), concurrent_indexes(INDEXES)]
