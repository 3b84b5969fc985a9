"""Pre-aggregated A/R aging (issue 10): the aging of a 500,000-claim practice read from a few thousand
cells instead of grouping millions of ledger entries per page view. Imported by billing.models.

Derived data, rebuilt from the (audited, immutable) ledger by billing.ar_rollup; not audited itself,
so these are plain models with the scoped manager rather than PracticeScopedModel.
"""

from __future__ import annotations

from django.db import models

from practice.scoping import scoped_manager


class ARAgingCell(models.Model):
    """Sum of the A/R balances that age alike: one account, one payer (insurance) or patient (patient
    responsibility), one date they age from. `groups` counts the non-zero balances summed in."""

    class Kind(models.TextChoices):
        PAYER = "payer", "Insurance, by payer and aging date"
        DAY = "day", "Patient responsibility, by aging date"
        PATIENT = "patient", "Patient responsibility, by patient and aging date"
        TOTAL = "total", "Patient responsibility, by patient (the largest balances)"

    practice = models.ForeignKey("practice.Practice", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PAYER)
    account = models.CharField(max_length=20)
    payer_id = models.BigIntegerField(null=True, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True)
    start_on = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    groups = models.PositiveIntegerField(default=0)

    objects = scoped_manager()
    all_objects = models.Manager()

    class Meta:
        indexes = [
            models.Index(fields=["practice", "account", "patient_id"], name="araging_cell_lookup"),
            models.Index(fields=["practice", "kind", "-amount"], name="araging_cell_largest"),
        ]

    def __str__(self) -> str:
        return f"ARAgingCell {self.pk}"


class ARRollupState(models.Model):
    """What the cells cover: ledger entries dated up to `through_on` and inserted before
    `entries_before` (a margin before the build, so a ledger transaction still open then cannot slip
    past both); everything else, and the entries of balances whose aging date may still move
    (`live_entry_ids`: insurance balances not yet on a submitted claim), is read live."""

    practice = models.OneToOneField("practice.Practice", on_delete=models.CASCADE, related_name="+")
    through_on = models.DateField()
    entries_before = models.DateTimeField()
    live_entry_ids = models.JSONField(default=list)
    built_at = models.DateTimeField()
    build_seconds = models.FloatField(default=0)

    objects = scoped_manager()
    all_objects = models.Manager()

    def __str__(self) -> str:
        return f"ARRollupState {self.pk}"
