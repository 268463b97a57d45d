"""Standalone HTML page of a simulation report, charts inline (SVG), no external assets.

Charts are drawn with matplotlib on the Agg canvas (no pyplot, no display) with a fixed
SVG hash salt and no date metadata, so the page bytes are the same for the same report.
With two plans (``--compare``) every section shows them side by side.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_COLOURS = {"P1": "#b2182b", "P2": "#ef8a62", "P3": "#67a9cf", "P4": "#2166ac"}
_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1f24;max-width:1400px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccd}
.banner{background:#fde2e1;border:2px solid #b2182b;padding:.8rem;font-weight:bold}
.plans{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1.5rem}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccd;padding:.2rem .5rem;
text-align:right}th{background:#f1f3f6}td:first-child,th:first-child{text-align:left}
.note{color:#555;font-size:.85rem}svg{max-width:100%;height:auto}
"""


def _figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _svg(figure: Figure) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "arverne", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _cdf_chart(plan: Mapping[str, Any]) -> str:
    hist = plan["response_histogram_s"]
    edges = np.asarray(hist["edges"]) / 60.0
    figure = _figure(5.5, 3.2)
    axes = figure.add_subplot()
    for name, counts in hist["counts"].items():
        c = np.asarray(counts, dtype=float)
        total = plan["response_by_priority"][name]["count"]
        if total:
            axes.step(
                edges[1:], np.cumsum(c) / total, where="post", label=name, color=_COLOURS.get(name)
            )
        target = plan["response_by_priority"][name]["target_s"]
        if target:
            axes.axvline(target / 60.0, color=_COLOURS.get(name), linestyle=":", linewidth=1)
    axes.set_xlabel("response time (min), dotted: targets")
    axes.set_ylabel("share of calls")
    axes.set_ylim(0, 1.01)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return _svg(figure)


def _hour_chart(plan: Mapping[str, Any]) -> str:
    figure = _figure(5.5, 3.0)
    axes = figure.add_subplot()
    for name, values in plan["mean_response_by_hour_s"].items():
        y = [np.nan if v is None else v / 60.0 for v in values]
        axes.plot(range(24), y, marker=".", label=name, color=_COLOURS.get(name))
    queue = plan["queue"]["by_hour"]
    twin = axes.twinx()
    twin.bar(range(24), [0 if v is None else v for v in queue], color="#999", alpha=0.25)
    twin.set_ylabel("mean queue length (bars)")
    axes.set_xlabel("hour of day")
    axes.set_ylabel("mean response (min)")
    axes.set_xticks(range(0, 24, 3))
    axes.legend(fontsize=8, loc="upper left")
    return _svg(figure)


def _util_chart(plan: Mapping[str, Any]) -> str:
    units = plan["utilisation"]["units"]
    figure = _figure(5.5, 2.6)
    axes = figure.add_subplot()
    axes.bar(range(len(units)), [u["utilisation"] or 0 for u in units], color="#1f4e79")
    axes.set_xticks(range(len(units)), [u["name"] for u in units], rotation=90, fontsize=6)
    axes.set_ylabel("utilisation")
    axes.set_ylim(0, 1)
    return _svg(figure)


def _queue_chart(plan: Mapping[str, Any]) -> str:
    daily = plan["queue"]["daily_max"]
    figure = _figure(5.5, 2.4)
    axes = figure.add_subplot()
    axes.plot(range(len(daily)), daily, color="#444", linewidth=0.8)
    axes.set_xlabel("day")
    axes.set_ylabel("max queue length")
    return _svg(figure)


def _fmt(value: Any, scale: float = 1.0, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "–"
    return f"{value / scale:.{digits}f}{suffix}"


def _priority_table(plan: Mapping[str, Any]) -> str:
    rows = []
    for name, s in plan["response_by_priority"].items():
        rows.append(
            f"<tr><td>{name}</td><td>{s['count']}</td><td>{_fmt(s['mean_s'], 60)}</td>"
            f"<td>{_fmt(s['median_s'], 60)}</td><td>{_fmt(s['p90_s'], 60)}</td>"
            f"<td>{_fmt(s['target_s'], 60, 0)}</td>"
            f"<td>{_fmt(s['within_target'], 0.01, 1, ' %')}</td>"
            f"<td>{_fmt(s['mean_wait_s'], 60)}</td></tr>"
        )
    return (
        "<table><tr><th>priority</th><th>calls</th><th>mean (min)</th><th>median</th>"
        "<th>p90</th><th>target</th><th>within target</th><th>mean queue wait</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _district_table(plan: Mapping[str, Any]) -> str:
    names = list(plan["response_by_priority"])
    head = "".join(f"<th>{n} within target</th>" for n in names)
    rows = []
    for district, entry in plan["response_by_district"].items():
        cells = "".join(f"<td>{_fmt(entry[n]['within_target'], 0.01, 1, ' %')}</td>" for n in names)
        rows.append(
            f"<tr><td>{html.escape(district)}</td><td>{entry['all']['count']}</td>"
            f"<td>{_fmt(entry['all']['mean_s'], 60)}</td>{cells}</tr>"
        )
    return (
        f"<table><tr><th>district</th><th>calls</th><th>mean (min)</th>{head}</tr>"
        + "".join(rows)
        + "</table>"
    )


def _plan_block(plan: Mapping[str, Any]) -> str:
    util = plan["utilisation"]
    queue = plan["queue"]
    return (
        f"<section><h2>{html.escape(plan['plan'])} — policy {html.escape(plan['policy'])}</h2>"
        f"<p>{plan['calls']} calls, {plan['reached']} reached; utilisation mean "
        f"{_fmt(util['mean'], 0.01, 1, ' %')} (min {_fmt(util['min'], 0.01, 0, ' %')}, max "
        f"{_fmt(util['max'], 0.01, 0, ' %')}); queue time-average "
        f"{_fmt(queue['time_average'], 1, 2)}, "
        f"max {queue['max']}; preemptions {plan['preemptions']}.</p>"
        f"{_priority_table(plan)}<h3>Response time distribution</h3>{_cdf_chart(plan)}"
        f"<h3>By hour of day</h3>{_hour_chart(plan)}<h3>By district</h3>{_district_table(plan)}"
        f"<h3>Unit utilisation</h3>{_util_chart(plan)}"
        f"<h3>Daily maximum queue</h3>{_queue_chart(plan)}</section>"
    )


def report_html(report: Mapping[str, Any]) -> bytes:
    """Render a report (from :func:`arverne.planning.report.build_report`) as HTML bytes."""
    scenario = report["scenario"]
    banner = (
        '<p class="banner">PARTIAL REPORT: the simulation was interrupted; figures cover '
        "only the simulated part.</p>"
        if report["partial"]
        else ""
    )
    notes = "".join(f"<li>{html.escape(str(n))}</li>" for n in scenario.get("notes", []))
    plans = "".join(f"<div>{_plan_block(p)}</div>" for p in report["plans"])
    title = "Dispatch simulation" + (" — comparison" if len(report["plans"]) > 1 else "")
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body>{banner}<h1>{title}</h1>"
        f"<p>{html.escape(str(scenario['city']))}; {scenario['days']:g} days; "
        f"{scenario['calls']} calls; seed {scenario['seed']}. Synthetic simulation output, "
        f'not observed data.</p><ul class="note">{notes}</ul>'
        f'<div class="plans">{plans}</div></body></html>\n'
    )
    return page.encode()
