"""Charts for the console: Plotly figures built here, drawn in the browser by plotly.js.

plotly.js is served by the app itself from the plotly package (``PLOTLY_JS``),
never from a CDN. Every chart on a page has its table beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import plotly
import plotly.graph_objects as go

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
FONT = '"Noto Sans CJK SC", "WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", sans-serif'


def _json(fig: go.Figure, title: str, y_title: str, x_title: str, percent: bool) -> str:
    fig.update_layout(
        title={"text": title, "font": {"size": 15}},
        font={"family": FONT, "size": 12},
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        height=320,
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
        barmode="group",
    )
    fig.update_yaxes(title_text=y_title, tickformat=".0%" if percent else None)
    fig.update_xaxes(title_text=x_title, automargin=True)
    # the JSON sits in a <script> block: "</" must not end it early
    return str(fig.to_json()).replace("</", "<\\/")


def bars(
    x: Sequence[object],
    series: Mapping[str, Sequence[float]],
    title: str,
    y_title: str = "",
    x_title: str = "",
    percent: bool = False,
    horizontal: bool = False,
    counts: bool = False,
) -> str:
    """Grouped bars, one trace per series. ``counts``: whole numbers on the value axis
    (no fractional or repeated ticks, one per unit while the largest is under 10)."""
    fig = go.Figure()
    for name, values in series.items():
        if horizontal:
            fig.add_trace(go.Bar(y=list(x), x=list(values), name=name, orientation="h"))
        else:
            fig.add_trace(go.Bar(x=list(x), y=list(values), name=name))
    if horizontal:
        fig.update_yaxes(autorange="reversed", type="category")
        return _json(fig, title, "", y_title, False)
    fig.update_xaxes(type="category")  # months and names, never a date axis
    if counts:
        top = max((float(v) for values in series.values() for v in values), default=0.0)
        fig.update_yaxes(tickformat=",d", rangemode="tozero", dtick=1 if top < 10 else None)
    return _json(fig, title, y_title, x_title, percent)


def lines(
    series: Mapping[str, tuple[Sequence[object], Sequence[float]]],
    title: str,
    y_title: str = "",
    x_title: str = "",
    percent: bool = False,
    diagonal: bool = False,
) -> str:
    fig = go.Figure()
    for name, (x, y) in series.items():
        fig.add_trace(go.Scatter(x=list(x), y=list(y), name=name, mode="lines+markers"))
    if diagonal:
        fig.add_trace(
            go.Scatter(
                x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="y=x"
            )
        )
    return _json(fig, title, y_title, x_title, percent)
