"""bench/report.py: turns the reports of one bench/run into bench/results/ringing.json and
ringing.md. Reads TMPD (the run's folder: closed.json, reference.json, rate.json, optional
goal_rate.json, idle.json, commands.txt, optional callgrind.json and callgrind.total),
RESULTS and ROOT from the environment."""

import datetime
import json
import os
import platform
import sys

tmp = os.environ["TMPD"]
results = os.environ["RESULTS"]
root = os.environ["ROOT"]
sys.path.insert(0, os.path.join(root, "bench"))
from machine import cpu_model, mem_total_mb, sh  # noqa: E402


def load(name):
    """A report; idle prints two JSON lines (connected, then closed)."""
    path = os.path.join(tmp, name + ".json")
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    text = open(path).read()
    try:
        return json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]








commit = sh("git", "rev-parse", "--short", "HEAD")
if sh("git", "status", "--porcelain", "--untracked-files=no"):
    commit += " (with uncommitted changes)"
machine = {
    "nproc": int(sh("nproc")) if sh("nproc").isdigit() else os.cpu_count(),
    "cpu": cpu_model(),
    "kernel": platform.release(),
    "memory_mb": mem_total_mb(),
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "commit": commit,
    "server_sha256": open(os.path.join(tmp, "server.sha256")).read().strip()
    if os.path.exists(os.path.join(tmp, "server.sha256")) else "unknown",
    "store": "sqlite (WAL, synchronous=FULL), data folder on " +
             sh("df", "--output=fstype", tmp).splitlines()[-1],
}

closed, ref, rate = load("closed"), load("reference"), load("rate")
goal_rate = load("goal_rate")
idle = load("idle") or []
idle_up = idle[0] if isinstance(idle, list) and idle else idle
idle_closed = idle[1] if isinstance(idle, list) and len(idle) > 1 else None
grind = load("callgrind")
grind_ir = None
if os.path.exists(os.path.join(tmp, "callgrind.total")):
    text = open(os.path.join(tmp, "callgrind.total")).read().strip()
    grind_ir = int(text) if text.isdigit() else None
commands = ["make bench   # = make build && bench/run"] + \
    open(os.path.join(tmp, "commands.txt")).read().splitlines()

GOAL_CPS, GOAL_P99, GOAL_IDLE_MB = 2000.0, 5.0, 100.0


def ratio(a, b):
    return round(a / b, 2) if b else None


summary = {}
if closed:
    summary["max_cycles_per_sec"] = round(closed["cycles_per_sec"], 1)
    summary["max_cycles_per_sec_fit"] = round(closed.get("cycles_per_sec_fit", 0), 1)
    summary["max_cycles_vs_goal"] = ratio(closed["cycles_per_sec"], GOAL_CPS)
    summary["server_cpu_s_per_1000_cycles"] = closed.get("server_cpu_s_per_1000_cycles")
    summary["server_cpu_util_closed_loop"] = closed.get("server_cpu_util")
    summary["client_cpu_util_closed_loop"] = closed.get("client_cpu_util")
if rate and ref:
    summary["rate_cycles_per_sec"] = round(rate["cycles_per_sec"], 1)
    summary["ring_p50_ms"] = rate["ring_latency_ms"]["p50"]
    summary["ring_p99_ms"] = rate["ring_latency_ms"]["p99"]
    summary["ref_ring_p50_ms"] = ref["ring_latency_ms"]["p50"]
    summary["ref_ring_p99_ms"] = ref["ring_latency_ms"]["p99"]
    summary["ring_p50_vs_ref"] = ratio(rate["ring_latency_ms"]["p50"],
                                       ref["ring_latency_ms"]["p50"])
    summary["ring_p99_vs_ref"] = ratio(rate["ring_latency_ms"]["p99"],
                                       ref["ring_latency_ms"]["p99"])
if idle_up and "server_rss_kb_after" in idle_up:
    summary["idle_connections"] = idle_up["ready"]
    summary["idle_server_rss_mb"] = round(idle_up["server_rss_kb_after"] / 1024, 1)
    summary["idle_server_rss_mb_before"] = round(idle_up["server_rss_kb_before"] / 1024, 1)
    summary["idle_kb_per_conn"] = round(idle_up["server_kb_per_conn"], 2)
if goal_rate:
    summary["goal_rate_cycles_per_sec"] = round(goal_rate["cycles_per_sec"], 1)
    summary["goal_rate_ring_p50_ms"] = goal_rate["ring_latency_ms"]["p50"]
    summary["goal_rate_ring_p99_ms"] = goal_rate["ring_latency_ms"]["p99"]
if grind and grind.get("cycles") and grind_ir:
    summary["callgrind_cycles"] = grind["cycles"]
    summary["server_instructions_per_cycle"] = round(grind_ir / grind["cycles"])

goals = {
    "cycles_per_sec_ge_2000": closed is not None and closed["cycles_per_sec"] >= GOAL_CPS,
    "ring_p99_lt_5ms_at_half_rate": rate is not None and
    rate["ring_latency_ms"]["p99"] < GOAL_P99,
    "ring_p99_lt_5ms_at_1000_per_sec": (goal_rate or rate) is not None and
    (goal_rate or rate)["ring_latency_ms"]["p99"] < GOAL_P99 and
    (goal_rate or rate)["cycles_per_sec"] >= 990,
    "idle_10000_lt_100mb": bool(idle_up) and idle_up.get("ready") == 10000 and
    idle_up.get("server_rss_kb_after", 1e12) / 1024 < GOAL_IDLE_MB,
}
errors = sum(r.get("errors", 0) for r in (closed, ref, rate, goal_rate) if r) + \
    (idle_up.get("failed", 0) if idle_up else 0)

doc = {"machine": machine, "commands": commands, "summary": summary, "goals": goals,
       "errors": errors,
       "runs": {"closed": closed, "reference": ref, "rate": rate, "goal_rate": goal_rate,
                "idle": idle_up,
                "idle_closed": idle_closed, "callgrind": grind}}
with open(os.path.join(results, "ringing.json"), "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")


def yes(ok):
    return "met" if ok else "**not met**"


rows = []
if closed:
    rows.append((f"complete cycles/s, closed loop, {closed['pairs']} pairs",
                 f"{closed['cycles_per_sec']:.0f} (fit: {summary['max_cycles_per_sec_fit']:.0f})",
                 "≥ 2,000 — " + yes(goals["cycles_per_sec_ge_2000"]),
                 f"{summary['max_cycles_vs_goal']}× the goal; server CPU "
                 f"{100 * (closed.get('server_cpu_util') or 0):.0f} % busy, "
                 f"generator {100 * closed['client_cpu_util']:.0f} %"))
    rows.append(("server CPU per 1,000 cycles (closed loop)",
                 f"{closed.get('server_cpu_s_per_1000_cycles') or 0:.3f} s", "",
                 "utime+stime from /proc/PID/stat"))
if rate and ref:
    rl, fl = rate["ring_latency_ms"], ref["ring_latency_ms"]
    rows.append((f"ring latency at {rate['rate_target']:.0f} cycles/s "
                 f"({rate['pairs']} pairs), p50 / p99 / max",
                 f"{rl['p50']:.3f} / {rl['p99']:.3f} / {rl['max']:.2f} ms",
                 "p99 < 5 ms — " + yes(goals["ring_p99_lt_5ms_at_half_rate"]),
                 f"{summary['ring_p50_vs_ref']}× / {summary['ring_p99_vs_ref']}× the 1-pair "
                 f"reference; achieved {rate['cycles_per_sec']:.0f}/s"))
if goal_rate:
    gl = goal_rate["ring_latency_ms"]
    rows.append(("ring latency at 1,000 cycles/s (250 pairs: half the 2,000/s goal), "
                 "p50 / p99 / max",
                 f"{gl['p50']:.3f} / {gl['p99']:.3f} / {gl['max']:.2f} ms",
                 "p99 < 5 ms — " + yes(goals["ring_p99_lt_5ms_at_1000_per_sec"]),
                 f"achieved {goal_rate['cycles_per_sec']:.0f}/s, "
                 f"{goal_rate['schedule']['late_starts']} late starts"))
if rate and ref:
    rows.append(("ring latency, 1 pair at 8 cycles/s (reference), p50 / p99 / max",
                 f"{fl['p50']:.3f} / {fl['p99']:.3f} / {fl['max']:.2f} ms", "",
                 f"{fl['samples']} samples"))
if idle_up and "server_rss_kb_after" in idle_up:
    rows.append((f"server RSS with {idle_up['ready']:,} idle authenticated connections",
                 f"{summary['idle_server_rss_mb']} MB",
                 "< 100 MB — " + yes(goals["idle_10000_lt_100mb"]),
                 f"{summary['idle_kb_per_conn']} KB per connection over "
                 f"{summary['idle_server_rss_mb_before']} MB before"))
if "server_instructions_per_cycle" in summary:
    rows.append(("server user-space instructions per complete cycle (callgrind)",
                 f"{summary['server_instructions_per_cycle']:,}", "",
                 f"over {summary['callgrind_cycles']} cycles, 10 pairs; noise-free"))
rows.append(("errors (all runs)", str(errors), "0", ""))

md = ["# Ringing benchmark: latest results", "",
      f"{machine['date']}, commit {machine['commit']}, server binary sha256 "
      f"{machine['server_sha256']}…; {machine['nproc']} CPUs "
      f"({machine['cpu']}), {machine['memory_mb']} MB, Linux {machine['kernel']}; "
      f"store: {machine['store']}.", "",
      "| measure | result | goal | same-run reference |", "|---|---|---|---|"]
md += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
notes_path = os.path.join(tmp, "notes.txt")
if os.path.exists(notes_path):
    md += ["", "Note: " + open(notes_path).read().strip()]
    doc["notes"] = open(notes_path).read().strip()
    with open(os.path.join(results, "ringing.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
md += ["", "Commands (secrets and the port shown as variables):", "", "```"] + commands + ["```", ""]
with open(os.path.join(results, "ringing.md"), "w") as f:
    f.write("\n".join(md))
