"""Inline SVG charts drawn here, with no library and no external reference, so that an HTML
report opens offline: a CDF per metric, the stacked phase breakdown, and a waterfall of the
worst episode (pure: data in, an ``<svg>`` string out)."""

from __future__ import annotations

import math
from html import escape

import numpy as np

from jarvis_diag.report.dataset import Waterfall
from jarvis_diag.report.fmt import fmt_value
from jarvis_diag.report.metrics import nearest_rank

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
SIDE_COLOR = {"client": "#4e79a7", "server": "#f28e2b"}
# a comparison's sides keep their colour in every chart, one side shown or both
ROLE_COLOR = {"baseline": PALETTE[0], "candidate": PALETTE[1]}
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'
_CDF_POINTS = 300  # a CDF of 100,000 cases is drawn through this many quantiles


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    # no xmlns: inline SVG in HTML needs none, and the report must not name any URL
    return (f'<svg class="chart" role="img" aria-label="{_t(label)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {_FONT}>' + "".join(body) + "</svg>")


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / count))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= count:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10**e
            if lo <= v <= hi:
                ticks.append(float(v))
    return ticks


def _tick_label(v: float) -> str:
    if v >= 1000:
        return f"{v / 1000:g} s"
    return f"{v:g} ms"


def cdf_svg(series: list[tuple[str, np.ndarray]], title: str, width: int = 520, height: int = 230) -> str:
    """Cumulative distribution of each series (sorted values, ms). The x axis turns
    logarithmic when the values span more than two decades, so a long tail stays readable."""
    series = [(name, np.asarray(v, dtype=float)) for name, v in series if len(v)]
    left, right, top, bottom = 48, 14, 24, 34
    pw, ph = width - left - right, height - top - bottom
    body = [f'<text x="{left}" y="15" font-weight="bold">{_t(title)}</text>']
    if not series:
        body.append(f'<text x="{left}" y="{top + ph / 2}">no data</text>')
        return _svg(width, height, body, title)
    lo = min(float(v[0]) for _, v in series)
    hi = max(float(v[-1]) for _, v in series)
    positive = min((float(v[v > 0][0]) for _, v in series if (v > 0).any()), default=0.0)
    use_log = positive > 0 and hi / positive > 100
    if use_log:
        lo = positive
        llo, lhi = math.log10(lo), math.log10(hi)

        def x_of(v: float) -> float:
            return left + pw * (math.log10(max(v, lo)) - llo) / max(lhi - llo, 1e-9)
        ticks = _log_ticks(lo, hi)
    else:
        span = hi - lo
        if lo > 0 and lo > span:
            # values bunched far from zero (119-121 ms): the axis spans them, not 0..121,
            # where they would be one line at the edge
            pad = span * 0.1 if span > 0 else max(lo * 0.01, 0.5)
            lo, hi = max(lo - pad, 0.0), hi + pad
        else:
            lo = min(lo, 0.0)
        hi = hi if hi > lo else lo + 1

        def x_of(v: float) -> float:
            return left + pw * (v - lo) / (hi - lo)
        ticks = _nice_ticks(lo, hi)

    def y_of(f: float) -> float:
        return top + ph * (1 - f)

    body.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>')
    for f in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(f)
        body.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
                    f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#666">{f:.0%}</text>')
    # p50 and p95 of the last series (the candidate when comparing) as dashed verticals
    last = series[-1][1]
    for q in (50, 95):
        v = float(last[nearest_rank(last.size, q)])
        x = x_of(v)
        # labels near the right edge go on the left of their line, so they are not cut off
        tx, anchor = (x - 3, "end") if x > left + pw * 0.75 else (x + 3, "start")
        ty = top + ph - 4 if q == 50 else top + ph - 16
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" stroke="#999" '
                    f'stroke-dasharray="3,3"/><text x="{tx:.1f}" y="{ty}" text-anchor="{anchor}" '
                    f'fill="#555">p{q} {_t(fmt_value(v, "ms"))}</text>')
    for tv in ticks:
        x = x_of(tv)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="#999"/>'
                    f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle" fill="#666">{_t(_tick_label(tv))}'
                    "</text>")
    for i, (name, values) in enumerate(series):
        n = values.size
        idx = np.unique(np.linspace(0, n - 1, min(n, _CDF_POINTS)).round().astype(int))
        pts = [f"{x_of(values[0]):.1f},{y_of(0):.1f}"]
        for k in idx:  # a step function: the fraction of cases <= value jumps at each value
            x = x_of(float(values[k]))
            pts.append(f"{x:.1f},{y_of(k / n):.1f} {x:.1f},{y_of((k + 1) / n):.1f}")
        color = ROLE_COLOR.get(name, PALETTE[i % len(PALETTE)])
        body.append(f'<polyline class="cdf-line" fill="none" stroke="{color}" stroke-width="1.8" '
                    f'points="{" ".join(pts)}"><title>{_t(name)}</title></polyline>')
        lx = width - right - 150 * (len(series) - i)
        body.append(f'<rect x="{lx}" y="6" width="10" height="10" fill="{color}"/>'
                    f'<text x="{lx + 14}" y="15">{_t(name)} (n={n})</text>')
    scale = "log scale" if use_log else "linear"
    body.append(f'<text x="{left + pw}" y="{height - 4}" text-anchor="end" fill="#666">ms ({scale})</text>')
    return _svg(width, height, body, title)


def stacked_svg(title: str, bars: dict[str, dict[str, float]], width: int = 520) -> str:
    """Horizontal stacked bars (one per case set) of mean ms per phase, on one scale."""
    names: list[str] = []
    for seg in bars.values():
        names += [p for p in seg if p not in names]
    color = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(names)}
    left, right, bar_h = 92, 70, 22
    legend_rows = math.ceil(len(names) / 5)
    height = 28 + len(bars) * (bar_h + 10) + legend_rows * 16 + 8
    pw = width - left - right
    top_total = max((sum(seg.values()) for seg in bars.values()), default=0.0) or 1.0
    body = [f'<text x="4" y="15" font-weight="bold">{_t(title)}</text>']
    y = 28
    for label, seg in bars.items():
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_t(label)}</text>')
        x = float(left)
        total = sum(seg.values())
        for p, ms in seg.items():
            w = pw * ms / top_total
            if w > 0:
                body.append(f'<rect class="segment" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                            f'fill="{color[p]}"><title>{_t(p)}: {_t(fmt_value(ms, "ms"))}</title></rect>')
            x += w
        body.append(f'<text x="{x + 4:.1f}" y="{y + 15}">{_t(fmt_value(total, "ms"))}</text>')
        y += bar_h + 10
    for i, p in enumerate(names):
        lx, ly = 4 + (i % 5) * 110, y + (i // 5) * 16
        body.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{color[p]}"/>'
                    f'<text x="{lx + 14}" y="{ly + 9}">{_t(p)}</text>')
    return _svg(width, height, body, title)


def _clip(label: str, size: int = 62) -> str:
    return label if len(label) <= size else label[: size - 1] + "…"


def waterfall_svg(w: Waterfall, width: int = 900) -> str:
    """The worst episode: one row per event, client rows blue, server rows orange; a bar is a
    span, a diamond an instant. Rows that began before 0 ms (the background) are clipped at
    the left edge and keep their real duration in the label."""
    rows = w.rows
    left, right, row_h, top = 390, 20, 18, 38
    height = top + len(rows) * row_h + 30
    pw = width - left - right
    ends = [r["end_ms"] if r["end_ms"] is not None else r["start_ms"] for r in rows]
    hi = max(ends + [w.total_ms, 1.0])
    if w.total_ms > 0:  # a late event (a ping timeout a minute on) must not squash the recovery itself
        hi = max([e for e in ends if e <= 3 * w.total_ms] + [w.total_ms])
    hi *= 1.04

    def x_of(v: float) -> float:
        return left + pw * max(v, 0.0) / hi

    body = [f'<text x="4" y="15" font-weight="bold">{_t(w.title)}</text>',
            f'<text x="4" y="30" fill="#666">0 ms = {_t(w.origin)}</text>']
    for tv in _nice_ticks(0.0, hi):
        x = x_of(tv)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - 26}" stroke="#eee"/>'
                    f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" fill="#666">{_t(_tick_label(tv))}'
                    "</text>")
    for i, r in enumerate(rows):
        y = top + i * row_h
        color = SIDE_COLOR.get(r["side"], "#888")
        label = r["label"]
        start, end = r["start_ms"], r["end_ms"]
        if start < 0:
            label += f" [{fmt_value(-start, 'ms')} before 0]"
        if start > hi:  # off the scale: an arrow at the right edge, the time in the label
            label += f" [at {fmt_value(start, 'ms')}]"
            ax = left + pw
            body.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" fill="{color}">{_t(_clip(label))}</text>'
                        f'<path class="event" d="M{ax - 8:.1f},{y + 3} l8,6 l-8,6 z" fill="{color}">'
                        f"<title>{_t(r['label'])} at {start:.1f} ms (off scale)</title></path>")
            continue
        if end is not None and end > hi:
            end = hi
        body.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" fill="{color}">{_t(_clip(label))}</text>')
        if end is None:
            cx = x_of(start)
            body.append(f'<path class="event" d="M{cx:.1f},{y + 3} l5,5 l-5,5 l-5,-5 z" fill="{color}">'
                        f"<title>{_t(r['label'])} at {start:.1f} ms</title></path>")
        else:
            x0, x1 = x_of(start), x_of(end)
            body.append(f'<rect class="span" x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 2):.1f}" height="12" '
                        f'fill="{color}" opacity="0.85"><title>{_t(r["label"])}: {start:.1f} -> {end:.1f} ms'
                        "</title></rect>")
    lx = 4
    for side, color in SIDE_COLOR.items():
        body.append(f'<rect x="{lx}" y="{height - 22}" width="10" height="10" fill="{color}"/>'
                    f'<text x="{lx + 14}" y="{height - 13}">{side}</text>')
        lx += 70
    return _svg(width, height, body, w.title)
