"""HTML -> PDF with WeasyPrint. WeasyPrint is imported inside the function, so the app (and every
page that prints nothing) starts on a machine without Pango."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict:
    # Printed records never load anything: no file://, no network. Styles are inline in the template.
    raise ValueError(f"PDF rendering does not fetch resources ({url.split(':', 1)[0]}: refused)")


def html_to_pdf(html: str) -> bytes:
    import weasyprint

    return weasyprint.HTML(string=html, base_url=None, url_fetcher=_refuse_fetch).write_pdf()


def render_pdf(template_name: str, context: dict[str, Any]) -> bytes:
    """Render a Django template (clinical/pdf/...) to PDF bytes."""
    return html_to_pdf(render_to_string(template_name, context))
