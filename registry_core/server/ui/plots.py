"""Metric plots as inline SVG drawn on the server: readable without JavaScript or a chart library,
each point titled with its version and value (the browser shows the title on hover)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 340, 150
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 22, 24


def _number(value: float) -> str:
    return f"{value:.4g}"


def metric_plot(
    key: str,
    points: Sequence[tuple[int, float]],
    direction: str | None = None,
    highlight: int | None = None,
) -> Markup:
    """A line of `(version, value)` points, oldest version first; `highlight` rings one version
    (the one in Production)."""
    title = key + {"higher": " (higher is better)", "lower": " (lower is better)"}.get(
        direction or "", ""
    )
    parts = [
        f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(key)} over versions">',
        f'<text class="plot-title" x="{LEFT}" y="14">{escape(title)}</text>',
    ]
    if points:
        versions = [v for v, _ in points]
        values = [y for _, y in points]
        low_x, high_x = min(versions), max(versions)
        low_y, high_y = min(values), max(values)
        if high_y == low_y:
            low_y, high_y = low_y - 0.5, high_y + 0.5
        span_x = max(high_x - low_x, 1)
        inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

        def at(version: int, value: float) -> tuple[float, float]:
            share = (version - low_x) / span_x if high_x > low_x else 0.5
            x = LEFT + share * inner_w
            return round(x, 1), round(TOP + (high_y - value) / (high_y - low_y) * inner_h, 1)

        bottom = TOP + inner_h
        parts += [
            f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>',
            f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}"/>',
            f'<text class="tick" x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">'
            f"{_number(high_y)}</text>",
            f'<text class="tick" x="{LEFT - 4}" y="{bottom}" text-anchor="end">'
            f"{_number(low_y)}</text>",
            f'<text class="tick" x="{LEFT}" y="{HEIGHT - 6}">v{low_x}</text>',
            f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">'
            f"v{high_x}</text>",
        ]
        coordinates = [at(v, y) for v, y in points]
        if len(coordinates) > 1:
            line = " ".join(f"{x},{y}" for x, y in coordinates)
            parts.append(f'<polyline class="line" points="{line}"/>')
        for (version, value), (x, y) in zip(points, coordinates, strict=True):
            ring = " held" if version == highlight else ""
            parts.append(
                f'<circle class="point{ring}" cx="{x}" cy="{y}" r="{4 if ring else 2.5}">'
                f"<title>v{version}: {escape(_number(value))}</title></circle>"
            )
    else:
        parts.append(f'<text class="tick" x="{LEFT}" y="{HEIGHT / 2}">no values</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
