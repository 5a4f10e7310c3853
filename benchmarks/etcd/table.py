#!/usr/bin/env python3
"""Pairs leasekv's and etcd's workload lines (JSON, one per line) into a markdown table of
figures and ratios (etcd / leasekv: how many times leasekv is ahead), and draws the ratios as an
SVG bar chart on a log scale, with the issue's target for each as a tick. Standard library only.

    table.py leasekv.jsonl etcd.jsonl plot.svg
"""
import json
import math
import sys

# (label, workload, field, unit, target ratio[, etcd's workload when its name differs])
ROWS = [
    ("put, new keys", "put", "ns_per_op", "ns", 20),
    ("overwrite", "overwrite", "ns_per_op", "ns", 20),
    ("get, random order", "get", "ns_per_op", "ns", 200),
    ("range of 100 keys (range_view)", "range100", "ns_per_op", "ns", 50),
    ("range of 100 keys (range: strings)", "range100_strings", "ns_per_op", "ns", 50, "range100"),
    ("lease grant", "grant", "ns_per_op", "ns", 20),
    ("lease renew", "renew", "ns_per_op", "ns", 10),
    ("lease revoke", "revoke", "ns_per_op", "ns", 2),
    ("storm: done after deadline", "storm", "done_after_deadline_ms", "ms", 200),
    ("storm: writer p99", "storm", "writer_p99_us", "us", None),
    ("open an empty store", "open_empty", "ns_per_op", "ns", 100),
    ("memory per key", "memory", "bytes_per_key", "B", None),
]


def load(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                d = json.loads(line)
                out[d["workload"]] = d
    return out


def fmt(v, unit):
    if unit == "ns" and v >= 10000:
        return f"{v / 1000:,.1f} µs"
    if unit == "us":
        return f"{v:,.0f} µs" if v >= 100 else f"{v:,.1f} µs"
    return f"{v:,.1f} {unit}" if v < 100 else f"{v:,.0f} {unit}"


def main():
    lk, et, svg = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
    print("| workload | leasekv | etcd 3.4 | etcd / leasekv | target |")
    print("|---|---:|---:|---:|---:|")
    bars = []
    for label, w, field, unit, target, *etcd_w in ROWS:
        ew = etcd_w[0] if etcd_w else w
        if w not in lk or ew not in et:
            continue
        a, b = float(lk[w][field]), float(et[ew][field])
        ratio = b / a if a > 0 else float("inf")
        if target:
            tgt = f"≥ {target}× ({'met' if ratio >= target else 'not met'})"
            shown = f"{ratio:,.1f}×"
        else:  # an absolute target: the ratio says nothing
            limit = 1000.0 if unit == "us" else 200.0
            tgt = ("< 1 ms" if unit == "us" else "≤ 200 B") + f" ({'met' if a <= limit else 'not met'})"
            shown = "—"
        print(f"| {label} | {fmt(a, unit)} | {fmt(b, unit)} | {shown} | {tgt} |")
        if target:
            bars.append((label, ratio, target))
    draw(bars, svg)


def draw(bars, path):
    width, left, row, top = 760, 210, 30, 40
    height = top + row * len(bars) + 40
    hi = max([max(r, t) for _, r, t in bars] + [10])
    decades = math.ceil(math.log10(hi))
    scale = (width - left - 30) / decades

    def x(v):
        return left + max(0.0, math.log10(max(v, 1.0))) * scale

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="20" font-size="14">How many times faster than etcd 3.4 '
             '(log scale; tick = target)</text>']
    for d in range(decades + 1):
        gx = left + d * scale
        parts.append(f'<line x1="{gx:.1f}" y1="{top - 8}" x2="{gx:.1f}" y2="{height - 30}" stroke="#ddd"/>')
        parts.append(f'<text x="{gx:.1f}" y="{height - 14}" text-anchor="middle">{10 ** d:,}×</text>')
    for i, (label, ratio, target) in enumerate(bars):
        y = top + i * row
        met = ratio >= target
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{label}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{x(ratio) - left:.1f}" height="{row - 10}" '
                     f'fill="{"#2e7d32" if met else "#c62828"}"/>')
        parts.append(f'<line x1="{x(target):.1f}" y1="{y}" x2="{x(target):.1f}" y2="{y + row - 4}" '
                     'stroke="black" stroke-width="2"/>')
        parts.append(f'<text x="{x(ratio) + 4:.1f}" y="{y + 15}">{ratio:,.1f}×</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
