#!/usr/bin/python3
"""Plots bench_density's curve (its --csv) as an SVG, with no library
beyond Python's own: VMs on x; host memory used (GiB) on the left axis;
exec round trip p50 and max (ms) on the right.

usage: scripts/plot-density.py density.csv docs/density.svg [TITLE]"""

import csv
import sys

W, H, L, R, T, B = 760, 440, 70, 70, 60, 50


def scale(v, lo, hi, a, b):
    return a + (b - a) * ((v - lo) / (hi - lo) if hi > lo else 0)


def polyline(xs, ys, xmax, ymax, colour, dash=""):
    pts = " ".join(f"{scale(x, 0, xmax, L, W - R):.1f},{scale(y, 0, ymax, H - B, T):.1f}" for x, y in zip(xs, ys))
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2"{extra} points="{pts}"/>'


def nice(v):
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if v / step <= 8:
            return step
    return 10000


def axis(ymax, right, unit, colour):
    """Ticks up to a round top at or above ymax; returns (svg parts, top)."""
    step = nice(ymax)
    top = step * -(-ymax // step)
    x = W - R if right else L
    out = []
    for i in range(int(round(top / step)) + 1):
        v = i * step
        y = scale(v, 0, top, H - B, T)
        anchor, dx = ("start", 6) if right else ("end", -6)
        out.append(f'<text x="{x + dx}" y="{y + 4:.1f}" text-anchor="{anchor}" fill="{colour}">{v:g}</text>')
        if not right:
            out.append(f'<line x1="{L}" x2="{W - R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
    label_x = W - 12 if right else 16
    out.append(f'<text x="{label_x}" y="{T - 14}" text-anchor="{"end" if right else "start"}" fill="{colour}">{unit}</text>')
    return out, top


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = list(csv.DictReader(open(sys.argv[1])))
    if not rows:
        sys.exit("no rows in " + sys.argv[1])
    title = sys.argv[3] if len(sys.argv) > 3 else "bench_density"
    vms = [int(r["vms"]) for r in rows]
    gib = [int(r["host_used_mib"]) / 1024 for r in rows]
    p50 = [float(r["exec_p50_ms"]) for r in rows]
    pmax = [float(r["exec_max_ms"]) for r in rows]
    xmax = max(vms)
    left, gmax = axis(max(max(gib), 0.1), False, "host memory used (GiB)", "#1f5fa8")
    right, mmax = axis(max(max(pmax), 1.0), True, "exec round trip (ms)", "#b4431b")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>']
    parts += left + right
    step = max(1, nice(xmax))
    for x in range(0, xmax + 1, step):
        px = scale(x, 0, xmax, L, W - R)
        parts.append(f'<text x="{px:.1f}" y="{H - B + 18}" text-anchor="middle">{x}</text>')
    parts.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">idle VMs running</text>')
    parts.append(f'<line x1="{L}" x2="{L}" y1="{T}" y2="{H - B}" stroke="#333"/>')
    parts.append(f'<line x1="{L}" x2="{W - R}" y1="{H - B}" y2="{H - B}" stroke="#333"/>')
    parts.append(polyline(vms, gib, xmax, gmax, "#1f5fa8"))
    parts.append(polyline(vms, p50, xmax, mmax, "#b4431b"))
    parts.append(polyline(vms, pmax, xmax, mmax, "#b4431b", "5,4"))
    legend = [("#1f5fa8", "", "host memory used (MemAvailable drop)"), ("#b4431b", "", "exec p50 over all VMs"),
              ("#b4431b", "5,4", "exec max over all VMs")]
    for i, (colour, dash, text) in enumerate(legend):
        y = T + 10 + 18 * i
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{L + 12}" x2="{L + 40}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"{extra}/>')
        parts.append(f'<text x="{L + 46}" y="{y + 4}">{text}</text>')
    parts.append("</svg>")
    with open(sys.argv[2], "w") as out:
        out.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
