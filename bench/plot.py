#!/usr/bin/env python3
"""Draws bench/results/benchmarks.svg from every bench/results/*/summary.txt
(as bench/run.sh writes them): each measure that has a target in issue 7,
one bar per run and database, beside a dashed line at the target.

Hand-written SVG, standard library only. Usage: python3 bench/plot.py
[RESULTS_DIR] [OUT.svg] (defaults bench/results and
bench/results/benchmarks.svg)."""
import glob
import os
import re
import sys
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(RESULTS, "benchmarks.svg")

# (key, title, unit, target, comparison that meets it) as issue 7 sets them
MEASURES = [
    ("import", "Register import: raw load time ÷ Aftercare time", "", 0.33, "≥"),
    ("recompute", "Recompute every entitlement and responsibility", " s", 10, "<"),
    ("reconcile", "Reconciliation: Aftercare time ÷ DuckDB time", "", 2, "≤"),
    ("person_p99", "Person page (API) p99 latency, 64 connections", " ms", 20, "<"),
    ("memory", "Server peak resident memory (VmHWM)", " MB", 300, "<"),
]
MEETS = {"≥": lambda v, t: v >= t, "<": lambda v, t: v < t, "≤": lambda v, t: v <= t}


def wrk_ms(text):
    """wrk's latency (e.g. 35.12ms, 1.98s, 850.00us) in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse(path):
    """One run: its size and [(measure, database, value)]."""
    people, points, date = None, [], ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("machine:"):
                m = re.search(r"people: (\d+)", line)
                people = int(m.group(1)) if m else None
                m = re.search(r"(\d{4}-\d\d-\d\d)T", line)
                date = m.group(1) if m else ""
            elif m := re.match(r"import \((\w+)\):.*raw/aftercare = ([\d.]+)", line):
                points.append(("import", m.group(1), float(m.group(2))))
            elif m := re.match(r"recompute every entitlement \((\w+)\): ([\d.]+) s", line):
                points.append(("recompute", m.group(1), float(m.group(2))))
            elif m := re.match(r"reconcile(?: \((\w+)\))?:.*aftercare/duckdb = ([\d.]+)", line):
                points.append(("reconcile", m.group(1) or "sqlite", float(m.group(2))))
            elif m := re.match(r"person(?: \((\w+)\))?: .*p99 (\S+?)[;,]?(?:\s|$)", line):
                ms = wrk_ms(m.group(2))
                if ms:  # wrk prints 0.00us when every request timed out
                    points.append(("person_p99", m.group(1) or "sqlite", ms))
            elif m := re.match(r"server resident memory(?: \((\w+)\))?: (\d+) MiB peak", line):
                points.append(("memory", m.group(1) or "sqlite", int(m.group(2)) * 1048576 / 1e6))
    return people, date, points


def fmt(v):
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main():
    runs = []
    for path in glob.glob(os.path.join(RESULTS, "*", "summary.txt")):
        people, date, points = parse(path)
        if people is not None and points:
            runs.append((people, date, points))
    runs.sort()

    width, left, right = 820, 230, 150
    plot_w = width - left - right
    bar_h, gap, head = 22, 6, 58
    ink, muted, met_c, miss_c, target_c = "#1b1b1b", "#4a4a4a", "#1a6b35", "#a4161a", "#1f3a93"

    panels, desc = [], []
    y = 92
    for key, title, unit, target, cmp in MEASURES:
        bars = [(people, db, v) for people, _, pts in runs for (k, db, v) in pts if k == key]
        better = "higher is better" if cmp == "≥" else "lower is better"
        rule = f"target {cmp} {target:g}{unit}"
        out = [f'<g aria-label="{escape(title)}">',
               f'<text x="20" y="{y + 18}" font-size="15" font-weight="bold" fill="{ink}">{escape(title)}</text>',
               f'<text x="20" y="{y + 37}" font-size="12.5" fill="{muted}">{escape(rule)}; {better}</text>']
        if not bars:
            out.append(f'<text x="{left}" y="{y + head + 15}" font-size="13" fill="{muted}">not measured yet</text>')
            desc.append(f"{title}: not measured yet ({rule}).")
            h = head + bar_h + 12
        else:
            top = max(max(v for _, _, v in bars), target) * 1.12
            sx = lambda v: left + plot_w * v / top
            h = head + len(bars) * (bar_h + gap) + 10
            labels = []
            tx = sx(target)
            # a white casing keeps the dashed line visible where it crosses a bar
            target_line = (f'<line x1="{tx:.1f}" y1="{y + head - 6}" x2="{tx:.1f}" y2="{y + h - 6}" stroke="#ffffff" stroke-width="5"/>'
                           f'<line x1="{tx:.1f}" y1="{y + head - 6}" x2="{tx:.1f}" y2="{y + h - 6}" stroke="{target_c}" stroke-width="2" stroke-dasharray="6 4"/>')
            labels.append(f'<text x="{tx:.1f}" y="{y + head - 10}" font-size="12" text-anchor="middle" fill="{target_c}">{escape(rule)}</text>')
            for i, (people, db, v) in enumerate(bars):
                by = y + head + i * (bar_h + gap)
                ok = MEETS[cmp](v, target)
                colour = met_c if ok else miss_c
                verdict = "met" if ok else "missed"
                label = f"{people:,} people · {'PostgreSQL' if db == 'postgres' else 'SQLite'}"
                labels.append(f'<text x="{left - 10}" y="{by + 15}" font-size="13" text-anchor="end" fill="{ink}">{escape(label)}</text>')
                out.append(f'<rect x="{left}" y="{by}" width="{max(sx(v) - left, 1):.1f}" height="{bar_h}" fill="{colour}"/>')
                labels.append(f'<text x="{sx(v) + 6:.1f}" y="{by + 15}" font-size="13" fill="{ink}" stroke="#ffffff" stroke-width="4" paint-order="stroke">{fmt(v)}{escape(unit)} — {verdict}</text>')
                desc.append(f"{title}, {label}: {fmt(v)}{unit}, {rule}: {verdict}.")
            out.append(f'<line x1="{left}" y1="{y + head - 4}" x2="{left}" y2="{y + h - 6}" stroke="{muted}" stroke-width="1"/>')
            # bars, then the target line over them, then every label on top
            out.append(target_line)
            out.extend(labels)
        out.append("</g>")
        panels.append("\n".join(out))
        y += h + 14

    height = y + 40
    sizes = ", ".join(f"{p:,} people ({d})" for p, d, _ in runs) or "none"
    heading = "Aftercare benchmarks against the issue 7 targets"
    note = ("Runs: " + sizes + ". Targets for recompute, person-page latency and memory are set for "
            "1,000,000 people; smaller runs show the trend only.")
    summary = heading + ". " + note + " " + " ".join(desc)
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="chart-title chart-desc" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">',
        f'<title id="chart-title">{escape(heading)}</title>',
        f'<desc id="chart-desc">{escape(summary)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="20" y="32" font-size="19" font-weight="bold" fill="{ink}">{escape(heading)}</text>',
        f'<text x="20" y="54" font-size="12.5" fill="{muted}">Runs: {escape(sizes)}.</text>',
        f'<text x="20" y="72" font-size="12.5" fill="{muted}">Targets for recompute, person-page p99 and memory are set for 1,000,000 people; smaller runs show the trend only.</text>',
        *panels,
        f'<text x="20" y="{height - 16}" font-size="12" fill="{muted}">Green bar: target met; red bar: missed (also written beside each bar). Dashed blue line: the target.</text>',
        "</svg>",
    ]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")
    print(OUT)


if __name__ == "__main__":
    main()
