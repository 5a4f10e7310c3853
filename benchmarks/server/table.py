#!/usr/bin/env python3
"""Turns run.sh's JSON lines into markdown tables (medians with their ranges, each leasekv figure as a
ratio to etcd's from the same run) and an SVG chart of the ratios against the issue's targets, on a log
scale. Standard library only.

    table.py start.jsonl results.jsonl plot.svg

Ratios are "how many times better than etcd": etcd's time, memory or latency over leasekv's, or
leasekv's throughput over etcd's. A ratio's range pairs the k-th measurement of leasekv with the k-th
of etcd (run.sh takes them next to each other, in a rotating order). A "*" marks a figure some of whose
measurements ran while other processes used more than half a core (other_cores > 0.5).
"""
import json
import math
import statistics
import sys
from collections import defaultdict

SERVERS = ["etcd", "leasekv", "leasekv-durable"]
LK = ["leasekv", "leasekv-durable"]
BUSY = 0.5


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def num(v, unit=""):
    if v != v:
        return "—"
    if v >= 100:
        s = f"{v:,.0f}"
    elif v >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def spread(xs, unit=""):
    """median (min–max)"""
    if not xs:
        return "—"
    if len(xs) == 1:
        return num(xs[0], unit)
    return f"{num(med(xs), unit)} ({num(min(xs))}–{num(max(xs), unit)})"


def ratios(lk, etcd, higher_better):
    n = min(len(lk), len(etcd))
    out = []
    for a, b in zip(lk[:n], etcd[:n]):
        if higher_better:
            out.append(a / b if b else float("inf"))
        else:
            out.append(b / a if a else float("inf"))
    return out


def ratio_text(rs):
    if not rs:
        return "—"
    if len(rs) == 1:
        return f"{rs[0]:.1f}×"
    return f"{med(rs):.1f}× ({min(rs):.1f}–{max(rs):.1f})"


def busy(rows):
    return "*" if any(r.get("other_cores", 0) > BUSY for r in rows) else ""


def main():
    starts, results, svg = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
    bars = []  # (label, median ratio, min, max, target)
    verdicts = []

    # ---- start ----
    st = defaultdict(list)
    for d in starts:
        st[d["label"]].append(d)
    print("### Spawn to first successful put\n")
    print("| server | spawn → first put, ms | server CPU by then, ms | etcd / this | target |")
    print("|---|---:|---:|---:|---|")
    et = [d["start_ms"] for d in st["etcd"]]
    for s in SERVERS:
        xs = [d["start_ms"] for d in st[s]]
        cpu = [d["server_cpu_ms"] for d in st[s] if "server_cpu_ms" in d]
        if s == "etcd":
            print(f"| {s} | {spread(xs)} | {spread(cpu)} | | |")
            continue
        rs = ratios(xs, et, False)
        ok = med(rs) >= 50 and med(xs) <= 10
        tgt = f"≥ 50× and ≤ 10 ms ({'met' if ok else 'not met'})"
        print(f"| {s} | {spread(xs)} | {spread(cpu)} | {ratio_text(rs)} | {tgt} |")
        bars.append((f"start ({s})", med(rs), min(rs), max(rs), 50))
        verdicts.append((f"start, {s}", ok))
    print()

    by = defaultdict(list)
    for d in results:
        by[(d["label"], d["workload"], d.get("clients", 0))].append(d)

    # ---- memory ----
    print("### Resident memory (VmRSS)\n")
    print("| server | idle | at 100,000 keys | after the run | etcd / this, idle | target (idle ≤ ¼ of etcd) |")
    print("|---|---:|---:|---:|---:|---|")
    mib = lambda key, s: [d["rss_kib"] / 1024 for d in by[(s, key, 0)]]
    for s in SERVERS:
        idle, filled, end = mib("rss_idle", s), mib("rss_filled", s), mib("rss_end", s)
        if s == "etcd":
            print(f"| {s} | {spread(idle, ' MiB')} | {spread(filled, ' MiB')} | {spread(end, ' MiB')} | | |")
            continue
        rs = ratios(idle, mib("rss_idle", "etcd"), False)
        ok = bool(rs) and med(rs) >= 4
        print(f"| {s} | {spread(idle, ' MiB')} | {spread(filled, ' MiB')} | {spread(end, ' MiB')} | "
              f"{ratio_text(rs)} | {'met' if ok else 'not met'} |")
        bars.append((f"idle RSS ({s})", med(rs), min(rs), max(rs), 4))
        verdicts.append((f"idle RSS, {s}", ok))
    fills = {s: by[(s, "fill", 0)] for s in SERVERS}
    line = ", ".join(f"{s} {d['filled'] / d['seconds']:,.0f}/s" for s in SERVERS for d in fills[s])
    print(f"\nFilling (64 workers, 16 per connection): {line}.\n")

    # ---- workloads ----
    print("### Throughput and latency (ops/s; p50 / p99 in µs; median (range) over the rounds)\n")
    print("| workload | clients | server | ops/s | × etcd | p50 µs | p99 µs | etcd p99 / this | server cores | "
          "loadgen cores | others' cores |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w in ["put", "get", "lease", "txn"]:
        for c in [1, 16, 64]:
            e = by[("etcd", w, c)]
            if not e:
                continue
            for s in SERVERS:
                rows = by[(s, w, c)]
                if not rows:
                    continue
                ops = [d["ops_per_s"] for d in rows]
                p50 = [d["p50_us"] for d in rows]
                p99 = [d["p99_us"] for d in rows]
                cores = lambda k: spread([d[k] for d in rows])
                x_tp, x_p99 = "", ""
                if s != "etcd":
                    rt = ratios(ops, [d["ops_per_s"] for d in e], True)
                    rl = ratios(p99, [d["p99_us"] for d in e], False)
                    x_tp, x_p99 = ratio_text(rt), ratio_text(rl)
                    if c in (16, 64):
                        bars.append((f"{w} {c}: ops/s ({s})", med(rt), min(rt), max(rt), 3))
                        bars.append((f"{w} {c}: p99 ({s})", med(rl), min(rl), max(rl), 3))
                        verdicts.append((f"{w} at {c} clients, throughput, {s}", med(rt) >= 3))
                        verdicts.append((f"{w} at {c} clients, p99, {s}", med(rl) >= 3))
                print(f"| {w} | {c} | {s} | {spread(ops)}{busy(rows)} | {x_tp} | {spread(p50)} | {spread(p99)} | "
                      f"{x_p99} | {cores('server_cores')} | {cores('gen_cores')} | {cores('other_cores')} |")
    print()

    # ---- watch ----
    print("### Watch: events per second delivered to 100 watchers of one prefix\n")
    print("| server | events/s | × etcd | puts/s meanwhile | drain after the last put, s | events per response | "
          "server cores | loadgen cores | others' cores |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    ew = [d["events_per_s"] for d in by[("etcd", "watch", 0)]]
    for s in SERVERS:
        rows = by[(s, "watch", 0)]
        if not rows:
            continue
        ev = [d["events_per_s"] for d in rows]
        x = ""
        if s != "etcd":
            rs = ratios(ev, ew, True)
            x = ratio_text(rs)
            bars.append((f"watch events/s ({s})", med(rs), min(rs), max(rs), 3))
            verdicts.append((f"watch delivery, {s}", med(rs) >= 3))
        lost = sum(d["expected"] - d["events"] for d in rows)
        note = f" ({lost:,} events missing)" if lost else ""
        print(f"| {s} | {spread(ev)}{busy(rows)}{note} | {x} | {spread([d['puts_per_s'] for d in rows])} | "
              f"{spread([max(0.0, d['drain_s']) for d in rows])} | "
              f"{spread([d['events_per_response'] for d in rows if 'events_per_response' in d])} | "
              f"{spread([d['server_cores'] for d in rows])} | "
              f"{spread([d['gen_cores'] for d in rows])} | {spread([d['other_cores'] for d in rows])} |")
    print()
    met = [v for v in verdicts if v[1]]
    print(f"Targets met (on the median ratio): {len(met)} of {len(verdicts)}. Not met: "
          + ("; ".join(v[0] for v in verdicts if not v[1]) or "none") + ".")
    draw(bars, svg)


def draw(bars, path):
    width, left, row, top = 860, 300, 18, 40
    height = top + row * len(bars) + 40
    lo = min([b[2] for b in bars] + [0.5])
    hi = max([max(b[3], b[4]) for b in bars] + [10])
    d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    scale = (width - left - 60) / (d1 - d0)

    def x(v):
        return left + (math.log10(max(v, 10 ** d0)) - d0) * scale

    one = x(1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             '<text x="10" y="20" font-size="13">leasekv-server against etcd 3.4: how many times better '
             '(log scale; bar = median, whisker = range, tick = target)</text>']
    for d in range(d0, d1 + 1):
        gx = left + (d - d0) * scale
        parts.append(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{height - 30}" stroke="#ddd"/>')
        parts.append(f'<text x="{gx:.1f}" y="{height - 14}" text-anchor="middle">{10.0 ** d:g}×</text>')
    for i, (label, m, lo_, hi_, target) in enumerate(bars):
        y = top + i * row
        met = m >= target
        x0, x1 = sorted((one, x(m)))
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{label}</text>')
        parts.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{x1 - x0:.1f}" height="{row - 6}" '
                     f'fill="{"#2e7d32" if met else "#c62828"}"/>')
        parts.append(f'<line x1="{x(lo_):.1f}" y1="{y + row / 2:.1f}" x2="{x(hi_):.1f}" y2="{y + row / 2:.1f}" '
                     'stroke="#444"/>')
        parts.append(f'<line x1="{x(target):.1f}" y1="{y + 1}" x2="{x(target):.1f}" y2="{y + row - 1}" '
                     'stroke="black" stroke-width="2"/>')
        parts.append(f'<text x="{max(x(m), x(hi_)) + 4:.1f}" y="{y + 12}">{m:.1f}×</text>')
    parts.append(f'<line x1="{one:.1f}" y1="{top - 6}" x2="{one:.1f}" y2="{height - 30}" stroke="#888"/>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
