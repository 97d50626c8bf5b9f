"""The statistics page's charts: SVG drawn by pygal from the page's own
tables, with no script and nothing fetched from elsewhere (the pages' CSP
allows neither). Each chart sits beside its table, which carries the same
numbers for screen readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pygal
from pygal.style import Style

from portal.compliance.statistics import Table

STYLE = Style(
    background="white",
    plot_background="white",
    font_family="sans-serif",
    colors=("#1f5f8b", "#c8553d", "#588b4a", "#8c6bb1", "#b0893a"),
)


@dataclass(frozen=True)
class Chart:
    name: str
    table: str  # the table it draws
    columns: tuple[str, ...]  # the measures drawn, a series each
    horizontal: bool = False
    skip: tuple[str, ...] = ()  # rows of the table left out of the chart


CHARTS = {
    c.name: c
    for c in (
        Chart("disputes", "by_month", ("received", "closed")),
        Chart("regimes", "by_regime", ("days_median", "days_p90")),
        Chart("furnishers", "furnishers", ("answer_days_median", "answer_days_p90"), horizontal=True),
        Chart("backlog", "backlog", ("open",), skip=("all", "overdue")),
    )
}


def svg(chart: Chart, table: Table, title: str) -> bytes:
    """The chart as a standalone SVG document."""
    config = pygal.Config(
        js=[],  # pygal's tooltips are a script from its CDN: none
        style=STYLE,
        title=title,
        width=720,
        height=360,
        legend_at_bottom=True,
        print_values=False,
        show_y_guides=True,
        no_data_text="—",
    )
    kind = pygal.HorizontalBar if chart.horizontal else pygal.Bar
    drawing = kind(config)
    rows = [r for r in table.rows if r[0] not in chart.skip]
    drawing.x_labels = [label for _, label, _ in rows]
    columns = [c for c, _ in table.columns]
    headers = dict(table.columns)
    for column in chart.columns:
        at = columns.index(column)
        drawing.add(headers[column], [values[at] for _, _, values in rows])
    return _without_scripts(drawing.render())


SVG, XLINK = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)


def _without_scripts(drawn: bytes) -> bytes:
    """pygal writes its configuration as a script even with no script
    files, and comments naming its home page: both left out (the parser
    drops comments). The document is pygal's own output, not a stranger's."""
    root = ET.fromstring(drawn)  # noqa: S314
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{{{SVG}}}script":
                parent.remove(child)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


__all__ = ["CHARTS", "Chart", "svg"]
