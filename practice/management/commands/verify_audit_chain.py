"""Walk every audit hash chain; report OK or the first broken entry of each chain.

Exit status 0 when every chain is intact, 1 when any is broken (usable from cron/monitoring).
"""

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from practice.audit import ChainBreak, verify_chains


class Command(BaseCommand):
    help = "Verify the hash chains of the audit logs (change log and PHI access log)."

    def handle(self, *args, **options) -> None:
        broken: list[ChainBreak] = []
        chains = entries = 0
        with scopes_disabled():
            for result in verify_chains():
                chains += 1
                if isinstance(result, ChainBreak):
                    broken.append(result)
                    self.stderr.write(f"BROKEN {result}")
                else:
                    entries += result[1]
                    if options["verbosity"] > 1:
                        self.stdout.write(f"ok {result[0]}: {result[1]} entries")
        if broken:
            raise CommandError(f"{len(broken)} of {chains} audit chains are broken.")
        self.stdout.write(self.style.SUCCESS(f"OK: {chains} chains, {entries} entries intact."))
