"""Export the practice's ready claims as 837P files into a directory.

    python manage.py export_837 --practice riverside --out /tmp/837

Each file is validated with pyx12 first; only valid files are released, written and their claims
marked submitted. A file that fails validation is kept in the app (status invalid) with its errors,
its claims stay ready, and the command exits with an error listing them.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from billing.models import ClaimFile
from billing.services_export import claims_export
from practice.models import Practice
from practice.scoping import practice_scope


class Command(BaseCommand):
    help = "Write 837P files for the practice's ready claims and mark the claims submitted."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--practice", required=True, help="The practice's slug.")
        parser.add_argument("--out", required=True, help="Directory to write the released files to.")

    def handle(self, *args, **options) -> None:
        with scopes_disabled():
            practice = Practice.objects.filter(slug=options["practice"]).first()
        if practice is None:
            raise CommandError(f"No practice with the slug {options['practice']!r}.")
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        with practice_scope(practice):
            files = claims_export(practice=practice, by=None)
        if not files:
            self.stdout.write("No ready claims to export.")
            return
        invalid = []
        for claim_file in files:
            if claim_file.status == ClaimFile.Status.RELEASED:
                path = out / claim_file.filename
                path.write_text(claim_file.content, encoding="ascii")
                self.stdout.write(
                    f"Released {path} (ISA13 {claim_file.interchange_control_number}, receiver "
                    f"{claim_file.receiver_id}): {claim_file.claim_count} claims, "
                    f"${claim_file.total_cents / 100:,.2f}; claims marked submitted."
                )
            else:
                invalid.append(claim_file)
                self.stderr.write(
                    f"NOT released: {claim_file.filename} ({claim_file.claim_count} claims) failed validation; "
                    "the claims stay ready:"
                )
                for error in claim_file.validation_errors[:20]:
                    self.stderr.write(f"  line {error.get('line')}: {error.get('message')}")
        if invalid:
            raise CommandError(f"{len(invalid)} of {len(files)} files failed validation and were not released.")
