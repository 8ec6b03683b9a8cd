"""Charts and the village map of the console's figures pages, drawn on the server (decision 103).

- :func:`line_chart` and :func:`bar_chart` are pygal charts rendered to SVG documents that a page serves as an
  image (``<img src=... alt=...>`` next to a table of the same numbers). pygal's JavaScript is left out: its
  ``<script>`` elements and the tooltip group (the only element with a ``style`` attribute, there for that script)
  are removed, so the document holds no script and no inline style attribute, only pygal's own ``<style>``
  element, which the gateway's policy for SVG answers allows (:data:`gateway.security.SVG_POLICY`).
- :func:`village_map` places a township's villages by their coordinates on a plane the template draws as inline
  SVG (no tile server: there is no internet, and no personal data leaves the township).

Pure functions: numbers in, text or coordinates out."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Iterable, Mapping, Sequence

import pygal
from pygal.style import Style

# colours of the series: distinguishable, dark enough on white (WCAG AA for the legend text beside them)
COLOURS = ("#0b5cad", "#a4161a", "#1a6b2f", "#8a4b00", "#5b2a86", "#006d77", "#6b4e16", "#b5179e", "#37474f",
           "#3d5a80")
STYLE = Style(background="#ffffff", plot_background="#ffffff", foreground="#1b1f24",
              foreground_strong="#1b1f24", foreground_subtle="#4a5561", opacity=".85", opacity_hover="1",
              colors=COLOURS, font_family='system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif',
              label_font_size=13, major_label_font_size=13, legend_font_size=13, title_font_size=16,
              value_font_size=12, tooltip_font_size=12)
MAX_SERIES = len(COLOURS)
SVG_MIMETYPE = "image/svg+xml"


def _options(title: str, width: int, height: int) -> dict:
    return dict(title=title, style=STYLE, width=width, height=height, js=[], disable_xml_declaration=True,
                explicit_size=False, legend_at_bottom=True, legend_at_bottom_columns=2, truncate_legend=40,
                truncate_label=24, print_values=False, show_minor_x_labels=True, no_data_text="—",
                margin=12, spacing=10)


def _svg(chart: pygal.graph.graph.Graph) -> str:
    """The chart as an SVG document without pygal's scripts and tooltip group (see the module's docstring)."""
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            if (not isinstance(child.tag, str) or child.tag.rsplit("}", 1)[-1] == "script"
                    or "tooltip" in (child.get("class") or "").split()):
                parent.remove(child)  # comments too: pygal's advertising
    for element in root.iter():
        element.attrib.pop("style", None)
    return ET.tostring(root, encoding="unicode")


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def line_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
               percent: bool = True, width: int = 800, height: int = 420) -> str:
    """One line per series (at most :data:`MAX_SERIES`) over ``labels`` (periods); a None value is a gap (no
    basis for the rate that period). Rates are drawn as percentages 0..100."""
    chart = pygal.Line(**_options(title, width, height), range=(0, 100) if percent else None,
                       allow_interruptions=True, dots_size=3, x_label_rotation=0)
    chart.x_labels = list(labels)
    if percent:
        chart.value_formatter = lambda v: f"{v:.0f}%"
    for name, values in list(series.items())[:MAX_SERIES]:
        chart.add(name, [_percent(v) if percent else v for v in values])
    return _svg(chart)


def bar_chart(title: str, bars: Sequence[tuple[str, float | None]], percent: bool = True, width: int = 800,
              height: int | None = None) -> str:
    """Horizontal bars, in the order given (a ranking: best first, drawn at the top)."""
    height = height or max(200, 90 + 28 * len(bars))
    chart = pygal.HorizontalBar(**{**_options(title, width, height), "show_legend": False},
                                range=(0, 100) if percent else None)
    if percent:
        chart.value_formatter = lambda v: f"{v:.0f}%"
    ordered = list(reversed(bars))  # pygal draws the first bar at the bottom
    chart.x_labels = [name for name, _ in ordered]
    chart.add(title, [_percent(v) if percent else v for _, v in ordered])
    return _svg(chart)


def village_map(villages: Iterable[Mapping], width: int = 640, height: int = 420,
                margin: int = 48) -> dict:
    """Villages with coordinates placed on a ``width`` x ``height`` plane: ``{"width", "height", "points":
    [{code, x, y, village}], "unplaced": [village...]}``.

    An equirectangular projection around the township's middle latitude (longitude scaled by its cosine), with
    the same scale on both axes so distances look right, centred; north is up. A township spans a few kilometres,
    so nothing finer is needed."""
    placed = [v for v in villages if v.get("lat") is not None and v.get("long") is not None]
    unplaced = [v for v in villages if v.get("lat") is None or v.get("long") is None]
    if not placed:
        return {"width": width, "height": height, "points": [], "unplaced": unplaced}
    middle = math.radians(sum(v["lat"] for v in placed) / len(placed))
    xs = [v["long"] * math.cos(middle) for v in placed]
    ys = [v["lat"] for v in placed]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    scale = min((width - 2 * margin) / span, (height - 2 * margin) / span)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    points = [{"code": v["code"], "village": v,
               "x": round(width / 2 + (x - cx) * scale, 1), "y": round(height / 2 - (y - cy) * scale, 1)}
              for v, x, y in zip(placed, xs, ys)]
    return {"width": width, "height": height, "points": points, "unplaced": unplaced}
