"""Post an 835 remittance file for a practice (billing.md §4).

    python manage.py import_835 remit.835 --practice riverside [--json]

Prints claims matched, paid, partially paid, denied, reversed, unmatched and the total paid; with
--json the same plus a per-claim list. Exits non-zero when the file is rejected (nothing posted).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from billing.services_remittance import remittance_import
from practice.models import Practice
from practice.scoping import practice_scope


class Command(BaseCommand):
    help = "Post an 835 remittance file (rejected whole when malformed or unbalanced)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="Path to the 835 file.")
        parser.add_argument("--practice", required=True, help="The practice's slug.")
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")

    def handle(self, *args, **options) -> None:
        with scopes_disabled():
            practice = Practice.objects.filter(slug=options["practice"]).first()
        if practice is None:
            raise CommandError(f"No practice with the slug {options['practice']!r}.")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        with practice_scope(practice):
            result = remittance_import(practice=practice, content=path.read_bytes(), filename=path.name)
            summary = result.summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
        elif result.rejected:
            self.stderr.write(f"Rejected, nothing posted: {result.error}")
        else:
            prefix = "Already posted (same payer and trace number); nothing posted again. " if result.duplicate else ""
            self.stdout.write(
                f"{prefix}Claims matched {summary['claims_matched']}, paid {summary['paid']}, "
                f"partially paid {summary['partially_paid']}, denied {summary['denied']}, "
                f"reversed {summary['reversed']}, forwarded {summary['forwarded']}, "
                f"unmatched {summary['unmatched']}, total paid ${summary['total_paid']}."
            )
        if result.rejected:
            raise CommandError(f"835 rejected: {result.error}")
