"""Template filters for the claims pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def cents(value) -> str:
    """Integer cents as dollars: 15000 -> "$150.00"."""
    try:
        amount = int(value or 0)
    except (TypeError, ValueError):
        return ""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}${amount // 100:,}.{amount % 100:02d}"
