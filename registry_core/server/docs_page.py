"""`/docs`: the server's OpenAPI schema as one plain HTML page, readable offline and without
JavaScript (no CDN-hosted Swagger UI)."""

from __future__ import annotations

from html import escape
from typing import Any


def _fields(operation: dict[str, Any], components: dict[str, Any]) -> str:
    schema: dict[str, Any] = {}
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = content["application/json"].get("schema", {})
        for option in schema.get("anyOf", [schema]):
            if "$ref" in option:
                schema = components.get(option["$ref"].rsplit("/", 1)[-1], {})
    names = [
        (p["name"], p.get("required", False))
        for p in operation.get("parameters", [])
        if "name" in p
    ]
    required = set(schema.get("required", []))
    names += [(name, name in required) for name in schema.get("properties", {})]
    return ", ".join(f"<code>{escape(n)}</code>{'*' if r else ''}" for n, r in names) or "—"


def render(openapi: dict[str, Any]) -> str:
    """The page: one table per tag of method, path, summary and fields (* = required)."""
    components = openapi.get("components", {}).get("schemas", {})
    sections: dict[str, list[str]] = {}
    for path, methods in sorted(openapi.get("paths", {}).items()):
        for method, operation in methods.items():
            tag = (operation.get("tags") or ["Other"])[0]
            sections.setdefault(tag, []).append(
                f"<tr><td><b>{escape(method.upper())}</b></td><td><code>{escape(path)}</code></td>"
                f"<td>{escape(operation.get('summary', ''))}</td>"
                f"<td>{_fields(operation, components)}</td></tr>"
            )
    body = "".join(
        f"<h2>{escape(tag)}</h2><table><tr><th>method</th><th>path</th><th>what</th>"
        f"<th>fields</th></tr>{''.join(rows)}</table>"
        for tag, rows in sorted(sections.items())
    )
    title = escape(openapi.get("info", {}).get("title", "API"))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
        "body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left;"
        "vertical-align:top}tr:nth-child(even){background:#f4f4f4}</style></head><body>"
        f"<h1>{title}</h1><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. "
        "Errors are MLflow's <code>{error_code, message}</code> JSON.</p>"
        f"{body}</body></html>"
    )
