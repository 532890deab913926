"""Pages from Jinja2 templates (autoescaped), with the headers every page carries: a Content
Security Policy that allows only this site's own CSS and script, no framing, no caching."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from registry_core.entities import STAGES
from registry_core.metrics import metric_direction
from registry_core.server.ui import links, pages

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=pages.when,
        iso=pages.iso,
        size=pages.size_text,
        metric=pages.metric_text,
        first_line=_first_line,
        model_url=links.model_url,
    )
    env.globals.update(
        STAGES=STAGES,
        version_url=links.version_url,
        with_query=links.with_query,
        direction=metric_direction,
        MODEL_ORDERS=pages.MODEL_ORDERS,
        PAGE_SIZES=pages.PAGE_SIZES,
    )
    return env


ENVIRONMENT = _environment()


def render(template: str, status: int, started: float, context: dict[str, Any]) -> HTMLResponse:
    """The page, with the security headers and how long the server took (`Server-Timing`)."""
    html = ENVIRONMENT.get_template(template).render(**context)
    elapsed = (time.perf_counter() - started) * 1000
    headers = {**SECURITY_HEADERS, "Server-Timing": f"app;dur={elapsed:.1f}"}
    return HTMLResponse(html, status, headers=headers)
