"""Hand-written 835s for the ERA tests (the writer lives in billing.era_writer)."""

from pathlib import Path

from billing.era_writer import clp, era

DATA = Path(__file__).parent / "data" / "era"

__all__ = ["DATA", "clp", "era"]
