"""Post charges created before the ledger existed (issue 7) to the ledger.

    python manage.py ledger_backfill [--practice riverside]

Idempotent: each charge posts once under the key `charge:<id>`; voided charges also get their
reversal. Running it twice posts nothing the second time.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from billing.services_patient_billing import ledger_backfill
from practice.models import Practice
from practice.scoping import practice_scope


class Command(BaseCommand):
    help = "Post every charge that has no ledger transaction yet (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--practice", help="Only this practice (slug); default: every practice.")

    def handle(self, *args, **options) -> None:
        with scopes_disabled():
            practices = Practice.objects.order_by("pk")
            if options.get("practice"):
                practices = practices.filter(slug=options["practice"])
                if not practices.exists():
                    raise CommandError(f"No practice with the slug {options['practice']!r}.")
            practices = list(practices)
        total = 0
        for practice in practices:
            with practice_scope(practice):
                posted = ledger_backfill(practice_id=practice.pk)
            total += posted
            self.stdout.write(f"{practice.slug}: {posted} charge(s) posted")
        self.stdout.write(f"Done: {total} charge(s) posted.")
