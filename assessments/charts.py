"""Server-side SVG geometry for the assessment plots (no JavaScript; the templates draw <rect>,
<polyline>, <circle> and <line> elements from these numbers and style them with classes, which the
Content-Security-Policy allows, never with inline style attributes).

Pure: no Django, no I/O. Coordinates are in the SVG's own viewBox units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from assessments.library import Instrument


def band_level(index: int, count: int) -> int:
    """Map a band's position to a colour level 0 (least severe) .. 4 (most severe)."""
    if count <= 1:
        return 0
    return round(index * 4 / (count - 1))


@dataclass(frozen=True)
class BandRect:
    y: float
    height: float
    level: int
    label: str
    label_y: float


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    total: int
    at: datetime
    severity_label: str
    ref: object  # the response's public_id (for the link)
    is_baseline: bool = False


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass
class LineChart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    bands: list[BandRect] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    polyline: str = ""
    caseness_y: float | None = None
    caseness: int | None = None
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)

    @property
    def right(self) -> int:
        return self.left + self.plot_width

    @property
    def bottom(self) -> int:
        return self.top + self.plot_height


def line_chart(
    instrument: Instrument,
    series: Sequence[tuple[datetime, int, str, object]],
    *,
    width: int = 640,
    height: int = 240,
) -> LineChart:
    """A measure over time: ``series`` is (completed_at, total, severity_label, ref), oldest first.

    Severity bands are shaded across the plot; the first point is the baseline; the caseness cut-off
    (NHS Talking Therapies) is a dashed line where the instrument defines one.
    """
    low, high = instrument.total_range or (0, 1)
    left, top, right_pad, bottom_pad = 40, 10, 110, 28
    pw, ph = width - left - right_pad, height - top - bottom_pad
    chart = LineChart(width, height, left, top, pw, ph)
    span = max(high - low, 1)

    def y_of(total: float) -> float:
        return round(top + ph - (total - low) / span * ph, 1)

    count = len(instrument.bands)
    for i, band in enumerate(instrument.bands):
        # each band covers [lower, upper + 1) on a continuous axis, clipped to the range
        y_top = y_of(min(band.upper + 1, high)) if band.upper < high else y_of(high)
        y_bottom = y_of(band.lower)
        chart.bands.append(
            BandRect(
                y=y_top,
                height=round(y_bottom - y_top, 1),
                level=band_level(i, count),
                label=band.label,
                label_y=round((y_top + y_bottom) / 2 + 4, 1),
            )
        )
    chart.y_ticks = [Tick(y_of(v), str(v)) for v in sorted({low, high, *(b.lower for b in instrument.bands)})]
    if instrument.caseness is not None:
        chart.caseness = instrument.caseness
        chart.caseness_y = y_of(instrument.caseness)
    if not series:
        return chart
    first, last = series[0][0], series[-1][0]
    seconds = (last - first).total_seconds()

    def x_of(at: datetime) -> float:
        if seconds <= 0:
            return round(left + pw / 2, 1)
        return round(left + (at - first).total_seconds() / seconds * pw, 1)

    for i, (at, total, label, ref) in enumerate(series):
        chart.points.append(Point(x_of(at), y_of(total), total, at, label, ref, is_baseline=i == 0))
    chart.polyline = " ".join(f"{p.x},{p.y}" for p in chart.points)
    chart.x_ticks = [Tick(x_of(first), first.strftime("%d %b %Y"))]
    if seconds > 0:
        chart.x_ticks.append(Tick(x_of(last), last.strftime("%d %b %Y")))
    return chart


@dataclass(frozen=True)
class Sparkline:
    width: int
    height: int
    polyline: str
    last_x: float
    last_y: float


def sparkline(totals: Sequence[int], *, maximum: int, width: int = 120, height: int = 28) -> Sparkline | None:
    """A tiny trend line of totals (oldest first) on a 0..maximum scale; None with under 2 points."""
    if len(totals) < 2:
        return None
    pad = 3
    step = (width - 2 * pad) / (len(totals) - 1)
    coords = [
        (round(pad + i * step, 1), round(height - pad - t / max(maximum, 1) * (height - 2 * pad), 1))
        for i, t in enumerate(totals)
    ]
    return Sparkline(width, height, " ".join(f"{x},{y}" for x, y in coords), coords[-1][0], coords[-1][1])


@dataclass(frozen=True)
class Bar:
    y: float
    width: float
    label: str
    value_label: str
    text_y: float
    is_small: bool = False


@dataclass
class BarChart:
    width: int
    height: int
    label_width: int
    bars: list[Bar]
    reference_x: float | None = None
    reference_label: str = ""


def hbar_chart(
    rows: Sequence[tuple[str, float | None, bool]],
    *,
    width: int = 560,
    label_width: int = 180,
    bar_height: int = 18,
    gap: int = 8,
    reference: float | None = None,
    reference_label: str = "",
) -> BarChart:
    """Horizontal bars of percentages (0..100): rows are (label, pct or None, is_small_n)."""
    plot = width - label_width - 60
    bars = []
    for i, (label, pct, small) in enumerate(rows):
        y = gap + i * (bar_height + gap)
        w = 0.0 if pct is None else round(max(0.0, min(pct, 100.0)) / 100 * plot, 1)
        bars.append(
            Bar(
                y=y,
                width=w,
                label=label[:28],
                value_label="–" if pct is None else f"{pct:.0f}%",
                text_y=y + bar_height - 5,
                is_small=small,
            )
        )
    height = gap + len(rows) * (bar_height + gap)
    ref_x = None if reference is None else round(label_width + reference / 100 * plot, 1)
    return BarChart(width, max(height, bar_height + 2 * gap), label_width, bars, ref_x, reference_label)
