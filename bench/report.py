#!/usr/bin/env python3
"""Turns bench/run's measurements into RESULTS.md and a chart of CPU per request.

Usage: report.py results.jsonl OUT_DIR --idle-rss-kib N --peak-rss-kib N --store JSON
                 --rounds N --duration S --connections N --hmac-us US
"""
import argparse
import datetime
import json
import platform
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path

PEERS = ["direct", "nginx", "nginx-lua", "bare-hyper", "hookgate"]
PROXIES = ["nginx", "nginx-lua", "bare-hyper", "hookgate"]
CELLS = [(1024, "off"), (1024, "on"), (65536, "off"), (65536, "on")]
COLORS = {"nginx": "#8c8c8c", "nginx-lua": "#e08a2b", "bare-hyper": "#6b8e23", "hookgate": "#2b6cb0"}
# (cell, peer to compare with, most hookgate's CPU/request may be as a ratio of it). The
# peer "bare-hyper+hmac" is the bare hyper proxy plus 1.1x one HMAC-SHA256 of the body.
TARGETS = [
    ((1024, "off"), "bare-hyper", 1.0),
    ((1024, "off"), "nginx-lua", 0.9),
    ((1024, "off"), "nginx", 1.15),
    ((1024, "on"), "nginx-lua", 0.85),
    ((65536, "off"), "nginx-lua", 0.7),
    ((65536, "off"), "bare-hyper+hmac", 1.0),
    ((65536, "on"), "nginx-lua", 0.7),
    ((65536, "on"), "bare-hyper+hmac", 1.0),
]


def label(cell):
    size, replay = cell
    return f"{size // 1024} KiB, replay {replay}"


def command(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("out")
    ap.add_argument("--idle-rss-kib", type=int)
    ap.add_argument("--peak-rss-kib", type=int)
    ap.add_argument("--store")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int)
    ap.add_argument("--connections", type=int)
    ap.add_argument("--durable")
    ap.add_argument("--hmac-us", type=float, default=0.0)
    a = ap.parse_args()
    out = Path(a.out)

    runs = defaultdict(list)  # (cell, peer) -> [run]
    problems = []
    for line in Path(a.results).read_text().splitlines():
        r = json.loads(line)
        w = r["wrk"]
        cell = (r["size"], r["replay"])
        seconds = w["duration_us"] / 1e6
        run = {
            "round": r["round"],
            "rps": w["requests"] / seconds,
            "p50": w["p50_us"],
            "p99": w["p99_us"],
            "cpu": (r["cpu_ticks"] / r["hz"]) * 1e6 / w["requests"] if w["requests"] else None,
            "user": (r.get("user_ticks", 0) / r["hz"]) * 1e6 / w["requests"] if w["requests"] else None,
            "system": (r.get("system_ticks", 0) / r["hz"]) * 1e6 / w["requests"] if w["requests"] else None,
        }
        if w["errors"] or w["non_2xx"]:
            problems.append(f"round {r['round']} {label(cell)} {r['peer']}: {w['errors']} socket errors, {w['non_2xx']} non-2xx")
        runs[(cell, r["peer"])].append(run)

    def median(cell, peer, key):
        values = [x[key] for x in runs[(cell, peer)] if x[key] is not None]
        return statistics.median(values) if values else None

    def ratios(cell, peer, other, key):
        extra = 0.0
        if other == "bare-hyper+hmac":
            other, extra = "bare-hyper", 1.1 * a.hmac_us
        by_round = {x["round"]: x[key] + extra for x in runs[(cell, other)] if x[key] is not None}
        return [x[key] / by_round[x["round"]] for x in runs[(cell, peer)] if by_round.get(x["round"])]

    lines = ["# Benchmark results", ""]
    lines += [
        f"One run of `bench/run` on {datetime.date.today().isoformat()}: {a.rounds} rounds, "
        f"{a.duration} s per peer and cell, {a.connections} connections, peers interleaved within "
        "each round (direct, nginx, nginx-lua, bare-hyper, hookgate). Medians over rounds.",
        "",
        "Machine: " + ", ".join(filter(None, [
            command("sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
            f"{command('nproc')} CPUs",
            f"Linux {platform.release()}",
        ])) + ". The proxy under test is pinned to CPU 0 with one worker (nginx `worker_processes 1`, "
        "hookgate `TOKIO_WORKER_THREADS=1`); wrk and the upstream share CPU 1, so requests/s is capped "
        "by CPU 1. **CPU per request** (the proxy's utime + stime from `/proc/PID/stat` over the run, "
        "divided by the requests wrk completed) is the figure that is not capped; its user and "
        "system parts are shown apart.",
        "",
        "Versions: " + "; ".join([
            command("nginx", "-v") or command("sh", "-c", "nginx -v 2>&1"),
            command("sh", "-c", "wrk -v 2>&1 | head -1"),
            "hookgate " + command("git", "rev-parse", "--short", "HEAD"),
        ]) + ".",
        "",
        "Peers: **direct**: wrk to the upstream, no proxy. **nginx**: `proxy_pass` with keep-alive, "
        "verifies nothing. **nginx-lua**: nginx verifying `X-Hub-Signature-256` in Lua (LuaJIT FFI "
        "to libcrypto, key set once per worker, `CRYPTO_memcmp`; replay protection through "
        "`ngx.shared.DICT:add` when on). **bare-hyper**: [`bare-proxy`](bare-proxy/src/main.rs), "
        "hyper 1.x server and hyper-util's pooled client (the versions hookgate builds with), whole "
        "body read then forwarded, hop-by-hop headers stripped, `X-Forwarded-For` added, no "
        "verification, no log, untuned: the Rust floor. **hookgate**: the `github` preset. All "
        "but bare-hyper log each request to a file. Replay off cycles 64 pre-signed deliveries; replay on sends a new body and "
        "signature every request. Before timing, each peer forwarded a 1 KiB and a 64 KiB "
        "delivery byte for byte, and the verifying peers answered 401 to a tampered one and to a "
        "replay.",
        "",
        "![CPU per request](cpu-per-request.svg)",
        "",
        "| cell | peer | CPU µs/request | user | system | requests/s | p50 µs | p99 µs |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for cell in CELLS:
        for peer in PEERS:
            if not runs[(cell, peer)]:
                continue
            cpu, user, system = (median(cell, peer, k) if peer != "direct" else None for k in ("cpu", "user", "system"))
            shown = lambda v: "-" if v is None else f"{v:.1f}"
            lines.append(
                f"| {label(cell)} | {peer} | {shown(cpu)} | {shown(user)} | {shown(system)} | "
                f"{median(cell, peer, 'rps'):,.0f} | {median(cell, peer, 'p50'):.0f} | {median(cell, peer, 'p99'):.0f} |"
            )
    lines += ["", "## Targets", ""]
    if a.hmac_us:
        lines += [f"One HMAC-SHA256 of 64 KiB costs {a.hmac_us:.1f} µs on the proxy's CPU (`bare-proxy --hmac-cost 65536`, "
                  "the `hmac` and `sha2` crates hookgate uses); bare-hyper+hmac is bare-hyper's CPU per request plus 1.1 times that.", ""]
    lines += ["| cell | hookgate CPU/request vs | target | median ratio | per round | met |", "|---|---|---:|---:|---|---|"]
    all_met = True
    for cell, other, bound in TARGETS:
        rs = ratios(cell, "hookgate", other, "cpu")
        if not rs:
            continue
        m = statistics.median(rs)
        met = m <= bound
        all_met &= met
        lines.append(f"| {label(cell)} | {other} | <= {bound} | {m:.2f} | {', '.join(f'{x:.2f}' for x in rs)} | {'yes' if met else '**no**'} |")
    lines += ["", "| cell | hookgate requests/s vs nginx-lua | p99 hookgate / nginx-lua (µs) | met |", "|---|---:|---|---|"]
    for cell in CELLS:
        rps = ratios(cell, "hookgate", "nginx-lua", "rps")
        if not rps:
            continue
        h99, n99 = median(cell, "hookgate", "p99"), median(cell, "nginx-lua", "p99")
        met = statistics.median(rps) >= 1.0 and h99 <= n99
        all_met &= met
        lines.append(f"| {label(cell)} | {statistics.median(rps):.2f} | {h99:.0f} / {n99:.0f} | {'yes' if met else '**no**'} |")
    if a.durable and Path(a.durable).exists():
        all_met &= durable_section(lines, Path(a.durable), problems)
    store = json.loads(a.store) if a.store else None
    lines += ["", "## Memory", "", "| figure | measured | target | met |", "|---|---:|---:|---|"]
    if a.idle_rss_kib:
        lines.append(f"| idle RSS, hookgate serving the bench config | {a.idle_rss_kib / 1024:.1f} MiB | <= 20 MiB | {'yes' if a.idle_rss_kib <= 20 * 1024 else '**no**'} |")
    if store:
        mib = store["rss_after_kib"] / 1024
        lines.append(f"| memory replay store holding {store['keys']:,} keys (`cargo bench --bench replay_memory`, process RSS) | {mib:.1f} MiB ({store['bytes_per_key']} B/key) | <= 128 MiB | {'yes' if mib <= 128 else '**no**'} |")
    if a.peak_rss_kib:
        lines.append(f"| peak RSS, 100 concurrent 900 KiB bodies, app answering after 1 s | {a.peak_rss_kib / 1024:.1f} MiB | < 364 MiB | {'yes' if a.peak_rss_kib < 364 * 1024 else '**no**'} |")
    if problems:
        lines += ["", "## Problems during the run", ""] + [f"- {p}" for p in problems]
    lines += ["", f"All targets met: {'yes' if all_met and not problems else 'no'}.", ""]
    notes = Path(__file__).with_name("notes.md")
    if notes.exists():
        lines += [notes.read_text()]
    (out / "RESULTS.md").write_text("\n".join(lines))
    (out / "cpu-per-request.svg").write_text(chart(median))


def durable_section(lines, path, problems):
    """Durable delivery next to sync mode: accepted/s, the sender's p99, CPU per delivered
    request (the attempts included) and delivery lag p99, with the targets."""
    runs = defaultdict(dict)  # round -> mode -> run
    for line in path.read_text().splitlines():
        r = json.loads(line)
        w = r["wrk"]
        if w["errors"] or w["non_2xx"]:
            problems.append(f"durable round {r['round']} {r['mode']}: {w['errors']} socket errors, {w['non_2xx']} non-2xx")
        runs[r["round"]][r["mode"]] = {
            "rps": w["requests"] / (w["duration_us"] / 1e6),
            "p99": w["p99_us"],
            "cpu": (r["cpu_ticks"] / r["hz"]) * 1e6 / max(w["requests"], 1),
            "lag": float(r["lag_p99_s"]),
            "redis_cpu": (r.get("redis_cpu_ticks", 0) / r["hz"]) * 1e6 / max(w["requests"], 1),
        }
    rounds = [m for m in runs.values() if "sync" in m and "durable" in m]
    if not rounds:
        return True
    med = lambda mode, key: statistics.median(m[mode][key] for m in rounds)
    cpu_ratio = statistics.median(m["durable"]["cpu"] / m["sync"]["cpu"] for m in rounds)
    rps_ratio = statistics.median(m["durable"]["rps"] / m["sync"]["rps"] for m in rounds)
    lines += [
        "", "## Durable delivery (1 KiB, app up, fsync on every commit)", "",
        "hookgate's `/hook/on` (sync) against `/hook/durable` (`delivery: { mode: durable, "
        "concurrency: 64 }`), same run, interleaved. A durable request's CPU counts from the first "
        "accepted request until the queue is empty again, so the attempts toward the app are "
        "included; the lag is acceptance to delivery.", "",
        "| mode | accepted/s | sender p99 µs | CPU µs/delivered request | delivery lag p99 |",
        "|---|---:|---:|---:|---:|",
        f"| sync | {med('sync', 'rps'):,.0f} | {med('sync', 'p99'):.0f} | {med('sync', 'cpu'):.1f} | - |",
        f"| durable | {med('durable', 'rps'):,.0f} | {med('durable', 'p99'):.0f} | {med('durable', 'cpu'):.1f} | {med('durable', 'lag') * 1000:.0f} ms (bucket bound) |",
    ]
    redis_rounds = [m for m in rounds if "durable-redis" in m]
    if redis_rounds:
        rmed = lambda key: statistics.median(m["durable-redis"][key] for m in redis_rounds)
        lines += [
            f"| durable, Redis store | {rmed('rps'):,.0f} | {rmed('p99'):.0f} | {rmed('cpu'):.1f} (+ Redis {rmed('redis_cpu'):.1f}) | {rmed('lag') * 1000:.0f} ms (bucket bound) |",
            "",
            "The Redis store's row: a second gateway, same route, its queue in a `redis-server` "
            "(Debian 7.0, `appendonly yes`, `appendfsync always`) on the load generator's CPU; "
            "Redis's own CPU per delivered request is shown apart.",
        ]
    lines += [
        "", "| target | median ratio | met |", "|---|---:|---|",
        f"| CPU per delivered request <= 1.3x sync | {cpu_ratio:.2f} | {'yes' if cpu_ratio <= 1.3 else '**no**'} |",
        f"| accepted/s >= 0.8x sync requests/s | {rps_ratio:.2f} | {'yes' if rps_ratio >= 0.8 else '**no**'} |",
    ]
    return cpu_ratio <= 1.3 and rps_ratio >= 0.8


def chart(median):
    width, height, left, bottom, top = 760, 360, 70, 60, 40
    values = {(c, p): median(c, p, "cpu") or 0 for c in CELLS for p in PROXIES}
    peak = max(values.values()) or 1
    scale = (height - bottom - top) / (peak * 1.1)
    group = (width - left - 20) / len(CELLS)
    bar = group / (len(PROXIES) + 1)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">Proxy CPU time per request (µs, median; lower is better)</text>']
    for i in range(5):
        v = peak * 1.1 * i / 4
        y = height - bottom - v * scale
        svg.append(f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    for ci, cell in enumerate(CELLS):
        x0 = left + ci * group + bar / 2
        for pi, peer in enumerate(PROXIES):
            v = values[(cell, peer)]
            h = v * scale
            x = x0 + pi * bar
            y = height - bottom - h
            svg.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar * 0.9:.1f}" height="{h:.1f}" fill="{COLORS[peer]}"/>')
            svg.append(f'<text x="{x + bar * 0.45:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10">{v:.1f}</text>')
        svg.append(f'<text x="{x0 + bar * 1.5:.1f}" y="{height - bottom + 18}" text-anchor="middle">{label(cell)}</text>')
    for pi, peer in enumerate(PROXIES):
        x = left + pi * 150
        svg.append(f'<rect x="{x}" y="{height - 24}" width="12" height="12" fill="{COLORS[peer]}"/>')
        svg.append(f'<text x="{x + 18}" y="{height - 14}">{peer}</text>')
    svg.append("</svg>")
    return "\n".join(svg) + "\n"


main()
